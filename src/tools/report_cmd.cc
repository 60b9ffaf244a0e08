// report_cmd.cc - `guplab report`: JSON outputs of guplab's commands into one HTML page.
#include "tools/report_cmd.h"

#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "lab/matrix.h"
#include "lab/report_html.h"
#include "lab/scenario.h"
#include "tools/read_input.h"
#include "tools/strict_number.h"
#include "tools/usage_exit.h"

namespace guplab::tools {

namespace {

// Read @file ("-": stdin) as JSON into @out; an error message naming the file, or "".
std::string load(const std::string& file, ReportInput* out) {
  std::string text;
  if (std::string err = read_input(file, &text); !err.empty()) return err;
  out->file = file;
  out->json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (out->json.is_discarded()) return fmt::format("{}: not JSON", file);
  return "";
}

// The matrix as `guplab run --all --format json` prints it, run here.
nlohmann::json run_matrix_json(uint64_t seed) {
  ScenarioParams base;
  base.seed = seed;
  base.backend = Backend::sim;
  base.trace = true;
  const std::vector<MatrixCell> cells = run_matrix(all_scenarios(), base);
  nlohmann::json j;
  j["seed"] = seed;
  j["backend"] = "sim";
  j["cells"] = nlohmann::json::array();
  size_t differ = 0;
  for (const auto& c : cells) {
    j["cells"].push_back(cell_json(c));
    differ += !c.matches();
  }
  j["differ"] = differ;
  return j;
}

// Why the page cannot be written to @output before anything runs: a directory, a
// directory that is missing or not writable, or a file that is one of @inputs (the
// page would replace it). "" if none of these.
std::string output_problem(const std::string& output, const std::vector<std::string>& inputs) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (output.empty()) return "-o: an empty file name";
  if (fs::is_directory(output, ec)) return fmt::format("-o {}: is a directory", output);
  fs::path dir = fs::path(output).parent_path();
  if (dir.empty()) dir = ".";
  if (!fs::is_directory(dir, ec)) return fmt::format("-o {}: no directory {}", output, dir.string());
  if (::access(dir.c_str(), W_OK) != 0) return fmt::format("-o {}: {}: {}", output, dir.string(), std::strerror(errno));
  struct stat o {};
  if (::stat(output.c_str(), &o) != 0) return "";
  if (::access(output.c_str(), W_OK) != 0) return fmt::format("-o {}: {}", output, std::strerror(errno));
  for (const std::string& in : inputs) {
    struct stat i {};
    if (in != "-" && ::stat(in.c_str(), &i) == 0 && i.st_dev == o.st_dev && i.st_ino == o.st_ino)
      return fmt::format("-o {} is the input {}: the page would replace it", output, in);
  }
  return "";
}

}  // namespace

int report_main(int argc, char** argv) {
  CLI::App app{"write one self-contained HTML page of a matrix run, explorations and pin-cost figures", "guplab report"};
  std::string output, matrix;
  std::vector<std::string> explores, gup_tests, fios;
  uint64_t seed = 1;
  app.add_option("-o,--output", output, "the HTML file to write")->required();
  app.add_option("--matrix", matrix, "output of guplab run --all --format json (default: run the matrix here)");
  app.add_option("--explore", explores, "output of guplab explore/merge --format json (repeatable)");
  app.add_option("--gup-test", gup_tests, "output of guplab gup_test ... --json, one per design (repeatable)");
  app.add_option("--fio", fios, "output of guplab fio --output-format=json (repeatable)");
  app.add_option("--seed", seed, "seed of the matrix run when no input is given")->check(Whole(0, UINT64_MAX, true));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return usage_exit(app, e);
  }
  const bool no_input = matrix.empty() && explores.empty() && gup_tests.empty() && fios.empty();
  size_t stdin_uses = matrix == "-";
  for (const auto* v : {&explores, &gup_tests, &fios})
    for (const auto& f : *v) stdin_uses += f == "-";
  if (stdin_uses > 1) {
    fmt::print(stderr, "guplab report: stdin (\"-\") can be read for one input only\n");
    return 2;
  }

  std::vector<std::string> inputs = explores;
  if (!matrix.empty()) inputs.push_back(matrix);
  inputs.insert(inputs.end(), gup_tests.begin(), gup_tests.end());
  inputs.insert(inputs.end(), fios.begin(), fios.end());
  if (std::string why = output_problem(output, inputs); !why.empty()) {
    fmt::print(stderr, "guplab report: {}\n", why);
    return 2;
  }

  ReportInputs in;
  auto take = [](const std::string& file, Result<bool> (*check)(const ReportInput&), std::vector<ReportInput>* into) {
    ReportInput r;
    std::string err = load(file, &r);
    if (err.empty()) {
      if (Result<bool> checked = check(r); !checked) err = checked.error();
    }
    if (!err.empty()) {
      fmt::print(stderr, "guplab report: {}\n", err);
      return false;
    }
    into->push_back(std::move(r));
    return true;
  };
  if (!matrix.empty() && !take(matrix, check_matrix_json, &in.matrices)) return 2;
  for (const auto& f : explores)
    if (!take(f, check_explore_json, &in.explorations)) return 2;
  for (const auto& f : gup_tests)
    if (!take(f, check_gup_test_json, &in.gup_tests)) return 2;
  for (const auto& f : fios)
    if (!take(f, check_fio_json, &in.fios)) return 2;
  if (no_input) in.matrices.push_back({fmt::format("guplab run --all --seed {} (run by guplab report)", seed), run_matrix_json(seed)});

  const std::string page = render_report_html(in);
  std::ofstream out(output, std::ios::binary | std::ios::trunc);
  if (!out || !(out << page) || !(out.flush())) {
    fmt::print(stderr, "guplab report: cannot write {}: {}\n", output, std::strerror(errno));
    return 1;
  }
  fmt::print(stderr, "guplab report: wrote {} ({} bytes)\n", output, page.size());
  return 0;
}

}  // namespace guplab::tools
