// report_html.cc - the self-contained HTML page of `guplab report`.
#include "lab/report_html.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

namespace guplab {

namespace {

using nlohmann::json;

// The outcomes in the order the model ranks them (worst first), with their colours.
struct OutcomeStyle {
  const char* name;
  const char* colour;
};
constexpr OutcomeStyle kOutcomes[] = {
    {"oops", "#b3261e"},  {"deadlock", "#3949ab"}, {"false_negative", "#c2185b"}, {"torn", "#7b1fa2"},
    {"lost", "#e65100"},  {"leak", "#f9a825"},     {"warn", "#fdd835"},           {"ok", "#2e7d32"},
};
constexpr const char* kNotRun = "#cfd8dc";

const char* colour_of(const std::string& outcome) {
  for (const auto& o : kOutcomes)
    if (outcome == o.name) return o.colour;
  return "#9e9e9e";  // an outcome this build does not know: grey, still shown by name
}

bool dark(const std::string& outcome) { return outcome != "warn" && outcome != "leak"; }

std::string str_of(const json& j, const char* key) {
  return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : std::string();
}

double num_of(const json& j, const char* key) { return j.contains(key) && j[key].is_number() ? j[key].get<double>() : 0.0; }

bool has_string(const json& j, const char* key) { return j.contains(key) && j[key].is_string(); }

// @j[@key] if it is true or false, else @dflt (the check_*_json() functions refuse a
// present key of another type, so the default stands for a missing one).
bool bool_of(const json& j, const char* key, bool dflt) {
  return j.contains(key) && j[key].is_boolean() ? j[key].get<bool>() : dflt;
}

// Is @j[@key] absent, or true/false?
bool bool_or_absent(const json& j, const char* key) { return !j.contains(key) || j[key].is_boolean(); }

// Values kept in first-seen order (the order the producing command printed them).
void add_once(std::vector<std::string>* v, const std::string& s) {
  if (std::find(v->begin(), v->end(), s) == v->end()) v->push_back(s);
}

constexpr const char* kStyle = R"(<style>
body{font-family:system-ui,sans-serif;margin:1.5em;color:#212121;background:#fff}
h1{font-size:1.5em}h2{font-size:1.25em;margin-top:1.6em;border-bottom:1px solid #ccc}h3{font-size:1.05em;margin:1.2em 0 .3em}
.grids{display:flex;flex-wrap:wrap;column-gap:2em}
table.grid{border-collapse:collapse;margin:.3em 0 1em}
table.grid th{font-weight:600;padding:.25em .6em;background:#eceff1;font-size:.85em}
table.grid td.cell{min-width:5.5em;padding:.35em .5em;text-align:center;font-size:.85em;border:2px solid #fff;cursor:help}
td.cell.differs{outline:3px dashed #000;outline-offset:-4px}
td.cell .mark{font-weight:700;margin-left:.25em}
.legend span{display:inline-block;padding:.15em .6em;margin:0 .3em .3em 0;font-size:.85em;border-radius:3px}
.note{color:#555;font-size:.9em}
table.fio{border-collapse:collapse}table.fio td,table.fio th{border:1px solid #ccc;padding:.2em .6em;font-size:.85em;text-align:right}
table.fio td:first-child,table.fio th:first-child{text-align:left}
#tip{position:fixed;display:none;max-width:48em;white-space:pre-wrap;background:#263238;color:#fff;padding:.5em .7em;
font:12px/1.35 monospace;border-radius:4px;pointer-events:none;z-index:10}
svg text{font-family:system-ui,sans-serif;font-size:12px}
</style>
)";

// The script: a tooltip that shows a cell's oracle text as soon as the pointer is over it
// (the title attribute alone shows it after a delay), and a summary of the grids that
// also tells a headless browser's DOM dump that the script ran.
constexpr const char* kScript = R"(<script>
(function(){
  var cells=document.querySelectorAll('td.cell'), differ=document.querySelectorAll('td.cell.differs').length;
  var s=document.getElementById('summary');
  s.setAttribute('data-cells',cells.length);s.setAttribute('data-differ',differ);
  s.textContent=cells.length+' cells, '+differ+' differ from the prediction (dashed outline, \u2260).';
  var tip=document.getElementById('tip');
  cells.forEach(function(c){
    var t=c.getAttribute('title');if(!t)return;
    c.setAttribute('data-tip',t);
    c.addEventListener('mouseenter',function(){tip.textContent=c.getAttribute('data-tip');tip.style.display='block';c.removeAttribute('title');});
    c.addEventListener('mousemove',function(e){tip.style.left=Math.min(e.clientX+14,window.innerWidth-tip.offsetWidth-8)+'px';tip.style.top=(e.clientY+14)+'px';});
    c.addEventListener('mouseleave',function(){tip.style.display='none';c.setAttribute('title',c.getAttribute('data-tip'));});
  });
  document.body.setAttribute('data-report-ready','1');
})();
</script>
)";

std::string legend() {
  std::string out = "<p class=\"legend\">";
  for (const auto& o : kOutcomes)
    out += fmt::format("<span style=\"background:{};color:{}\">{}</span>", o.colour, dark(o.name) ? "#fff" : "#000", o.name);
  out += fmt::format("<span style=\"background:{}\">not run</span></p>\n", kNotRun);
  return out;
}

// The hover text of one cell: outcome and prediction, the reason, the findings.
std::string cell_tip(const json& c) {
  std::string t = fmt::format("{} x {} x {}: {} (predicted {}){}", str_of(c, "scenario"), str_of(c, "design"),
                              str_of(c, "policy"), str_of(c, "outcome"), str_of(c, "expected"),
                              bool_of(c, "matches", true) ? "" : " DIFFERS");
  if (const std::string r = str_of(c, "reason"); !r.empty()) t += "\nreason: " + r;
  if (c.contains("findings") && c["findings"].is_array())
    for (const auto& f : c["findings"])
      if (f.is_string()) t += "\nfinding: " + f.get<std::string>();
  return t;
}

std::string matrix_section(const ReportInput& m) {
  const json& cells = m.json["cells"];
  std::vector<std::string> scenarios, designs, policies;
  std::map<std::string, std::map<std::pair<std::string, std::string>, const json*>> by;
  for (const auto& c : cells) {
    const std::string s = str_of(c, "scenario"), d = str_of(c, "design"), p = str_of(c, "policy");
    add_once(&scenarios, s);
    add_once(&designs, d);
    add_once(&policies, p);
    by[s][{d, p}] = &c;
  }
  std::string out = fmt::format("<h2>Scenario matrix</h2>\n<p class=\"note\">From {} (seed {}, backend {}): {} cells. "
                                "Rows are pin designs, columns writeback policies; hover a cell for the oracles' text.</p>\n",
                                html_escape(m.file), html_escape(m.json.contains("seed") ? m.json["seed"].dump() : "?"),
                                html_escape(str_of(m.json, "backend")), cells.size());
  out += legend();
  out += "<div class=\"grids\">\n";
  for (const auto& s : scenarios) {
    out += fmt::format("<div class=\"scenario\"><h3>{}</h3>\n<table class=\"grid\" data-scenario=\"{}\">\n<tr><th>design \\ policy</th>",
                       html_escape(s), html_escape(s));
    for (const auto& p : policies) out += fmt::format("<th>{}</th>", html_escape(p));
    out += "</tr>\n";
    for (const auto& d : designs) {
      out += fmt::format("<tr><th>{}</th>", html_escape(d));
      for (const auto& p : policies) {
        auto it = by[s].find({d, p});
        if (it == by[s].end()) {
          out += fmt::format("<td class=\"cell absent\" style=\"background:{}\">-</td>", kNotRun);
          continue;
        }
        const json& c = *it->second;
        const std::string attrs = fmt::format("data-scenario=\"{}\" data-design=\"{}\" data-policy=\"{}\"", html_escape(s),
                                              html_escape(d), html_escape(p));
        if (!bool_of(c, "applies", true)) {
          out += fmt::format("<td class=\"cell notrun\" {} style=\"background:{}\" title=\"{}\">not run</td>", attrs, kNotRun,
                             html_escape(fmt::format("{} does not run under {} with {}", s, d, p)));
          continue;
        }
        const std::string oc = str_of(c, "outcome");
        const bool differs = !bool_of(c, "matches", true);
        out += fmt::format("<td class=\"cell{}\" {} data-outcome=\"{}\" style=\"background:{};color:{}\" title=\"{}\">{}{}</td>",
                           differs ? " differs" : "", attrs, html_escape(oc), colour_of(oc), dark(oc) ? "#fff" : "#000",
                           html_escape(cell_tip(c)), html_escape(oc),
                           differs ? fmt::format("<span class=\"mark\">&ne; {}</span>", html_escape(str_of(c, "expected")))
                                   : "");
      }
      out += "</tr>\n";
    }
    out += "</table></div>\n";
  }
  return out + "</div>\n";
}

// A horizontal SVG bar chart: one bar per (label, value), values written beside the bars.
struct Bar {
  std::string label;
  double value;
  std::string colour;
  std::string tip;
};
std::string bar_chart(const std::vector<Bar>& bars, const std::string& unit, const std::string& cls) {
  double max = 0;
  for (const auto& b : bars) max = std::max(max, b.value);
  constexpr int kLabelW = 260, kBarW = 520, kRowH = 22, kValueW = 140;
  const int h = static_cast<int>(bars.size()) * kRowH + 8;
  std::string out = fmt::format("<svg class=\"{}\" width=\"{}\" height=\"{}\" role=\"img\">\n",
                                cls, kLabelW + kBarW + kValueW, h);
  int y = 4;
  for (const auto& b : bars) {
    const double w = max > 0 ? b.value / max * kBarW : 0;
    out += fmt::format("<g><title>{}</title><text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>"
                       "<rect x=\"{}\" y=\"{}\" width=\"{:.1f}\" height=\"{}\" fill=\"{}\"/>"
                       "<text x=\"{:.1f}\" y=\"{}\">{}</text></g>\n",
                       html_escape(b.tip.empty() ? b.label : b.tip), kLabelW - 6, y + 15, html_escape(b.label), kLabelW, y + 2,
                       w, kRowH - 6, b.colour, kLabelW + w + 5, y + 15,
                       html_escape(fmt::format("{:.6g}{}", b.value, unit.empty() ? "" : " " + unit)));
    y += kRowH;
  }
  return out + "</svg>\n";
}

std::string explore_section(const std::vector<ReportInput>& ex) {
  std::string out = "<h2>Explorations</h2>\n";
  if (ex.empty()) return out + "<p class=\"note\">None given (guplab report --explore FILE).</p>\n";
  for (const auto& e : ex) {
    const json& j = e.json;
    out += fmt::format("<h3 class=\"exploration\">{}{} under {} / {}</h3>\n<p class=\"note\">{}: {} runs, strategy {}, "
                       "base seed {}, shard {}; {} failed; predicted {}: {}.</p>\n",
                       html_escape(str_of(j, "scenario")), bool_of(j, "scripted", true) ? "" : " (unscripted)",
                       html_escape(str_of(j, "design")), html_escape(str_of(j, "policy")), html_escape(e.file),
                       j["runs"].dump(), html_escape(str_of(j, "strategy")), html_escape(j["base_seed"].dump()),
                       html_escape(str_of(j, "shard")), j["failed"].dump(), html_escape(str_of(j, "expected")),
                       bool_of(j, "as_predicted", false) ? "as predicted" : "not as predicted");
    std::vector<Bar> bars;
    std::vector<std::string> seen;
    for (const auto& o : kOutcomes) {
      seen.push_back(o.name);
      if (j["outcomes"].contains(o.name)) bars.push_back({o.name, num_of(j["outcomes"], o.name), o.colour, ""});
    }
    for (auto it = j["outcomes"].begin(); it != j["outcomes"].end(); ++it)
      if (std::find(seen.begin(), seen.end(), it.key()) == seen.end())
        bars.push_back({it.key(), it.value().get<double>(), colour_of(it.key()), ""});
    out += bar_chart(bars, "runs", "histogram");
    if (j.contains("first_failure") && j["first_failure"].is_object()) {
      const json& f = j["first_failure"];
      out += fmt::format("<p class=\"note\">First failure: run {}, seed {}, {}: {}</p>\n", html_escape(f.value("run", json()).dump()),
                         html_escape(f.value("seed", json()).dump()), html_escape(str_of(f, "outcome")),
                         html_escape(str_of(f, "reason")));
    }
  }
  return out;
}

std::string gup_test_section(const std::vector<ReportInput>& gt) {
  std::string out = "<h2>Pin cost per design (gup_test)</h2>\n";
  if (gt.empty()) return out + "<p class=\"note\">None given (guplab report --gup-test FILE, from guplab gup_test ... --json).</p>\n";
  std::vector<Bar> bars;
  for (const auto& g : gt) {
    const json& j = g.json;
    const std::string what = fmt::format("{} {}, {} MiB, {} pages/call, {} threads", str_of(j, "cmd"), str_of(j, "design"),
                                         j.value("size_mb", json()).dump(), j.value("nr_pages_per_call", json()).dump(),
                                         j.value("threads", json()).dump());
    const std::string d = str_of(j, "design");
    bars.push_back({d + " get", num_of(j["model"], "get_ns_per_page"), "#1565c0", what + " (" + g.file + ")"});
    bars.push_back({d + " put", num_of(j["model"], "put_ns_per_page"), "#64b5f6", what + " (" + g.file + ")"});
    if (j.contains("baseline") && j["baseline"].is_object()) {
      bars.push_back({d + " baseline inc", num_of(j["baseline"], "get_ns_per_page"), "#9e9e9e", "bare atomic fetch_add: " + what});
      bars.push_back({d + " baseline dec", num_of(j["baseline"], "put_ns_per_page"), "#cfcfcf", "bare atomic fetch_sub: " + what});
    }
    if (j.contains("host") && j["host"].is_object() && j["host"].contains("get_ns_per_page")) {
      bars.push_back({d + " host get", num_of(j["host"], "get_ns_per_page"), "#6d4c41", "the host kernel's pin: " + what});
      bars.push_back({d + " host put", num_of(j["host"], "put_ns_per_page"), "#a1887f", "the host kernel's unpin: " + what});
    }
  }
  out += "<p class=\"note\">Medians over the repeats, ns per page (hover a bar for the run).</p>\n";
  return out + bar_chart(bars, "ns/page", "pincost");
}

std::string fio_section(const std::vector<ReportInput>& fios) {
  std::string out = "<h2>fio</h2>\n";
  if (fios.empty()) return out + "<p class=\"note\">None given (guplab report --fio FILE, from guplab fio --output-format=json).</p>\n";
  out += "<table class=\"fio\"><tr><th>file / job</th><th>design</th><th>read KiB/s</th><th>read IOPS</th>"
         "<th>write KiB/s</th><th>write IOPS</th><th>pins acquired / released</th><th>problems</th></tr>\n";
  for (const auto& f : fios) {
    const json& g = f.json["guplab"];
    std::string problems;
    if (g.contains("problems") && g["problems"].is_array())
      for (const auto& p : g["problems"]) problems += (problems.empty() ? "" : "; ") + (p.is_string() ? p.get<std::string>() : p.dump());
    for (const auto& job : f.json["jobs"]) {
      auto side = [&](const char* dir, const char* key) {
        return job.contains(dir) && job[dir].is_object() ? fmt::format("{:.6g}", num_of(job[dir], key)) : std::string("-");
      };
      out += fmt::format("<tr><td>{} / {}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} / {}</td><td>{}</td></tr>\n",
                         html_escape(f.file), html_escape(str_of(job, "jobname")), html_escape(str_of(g, "design")),
                         side("read", "bw"), side("read", "iops"), side("write", "bw"), side("write", "iops"),
                         html_escape(g.value("nr_foll_pin_acquired", json()).dump()),
                         html_escape(g.value("nr_foll_pin_released", json()).dump()), html_escape(problems.empty() ? "none" : problems));
    }
  }
  return out + "</table>\n";
}

Error not_a(const ReportInput& in, const std::string& what, const std::string& command) {
  return Error{fmt::format("{}: {}: not the output of {}", in.file, what, command)};
}

}  // namespace

std::string html_escape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

Result<bool> check_matrix_json(const ReportInput& in) {
  const char* cmd = "guplab run --all --format json";
  const json& j = in.json;
  if (!j.is_object()) return not_a(in, "not a JSON object", cmd);
  if (!j.contains("cells") || !j["cells"].is_array()) return not_a(in, "no \"cells\" array", cmd);
  size_t i = 0;
  for (const auto& c : j["cells"]) {
    if (!c.is_object()) return not_a(in, fmt::format("cell {} is not an object", i), cmd);
    for (const char* f : {"scenario", "design", "policy"})
      if (!has_string(c, f)) return not_a(in, fmt::format("cell {} has no \"{}\"", i, f), cmd);
    for (const char* f : {"applies", "matches"})
      if (!bool_or_absent(c, f)) return not_a(in, fmt::format("cell {}: \"{}\" is not true/false", i, f), cmd);
    if (bool_of(c, "applies", true)) {
      for (const char* f : {"outcome", "expected"})
        if (!has_string(c, f)) return not_a(in, fmt::format("cell {} has no \"{}\"", i, f), cmd);
      if (c.contains("findings") && !c["findings"].is_array()) return not_a(in, fmt::format("cell {}: \"findings\" is not a list", i), cmd);
    }
    i++;
  }
  return true;
}

Result<bool> check_explore_json(const ReportInput& in) {
  const char* cmd = "guplab explore/merge --format json";
  const json& j = in.json;
  if (!j.is_object()) return not_a(in, "not a JSON object", cmd);
  for (const char* f : {"scenario", "design", "policy"})
    if (!has_string(j, f)) return not_a(in, fmt::format("no \"{}\"", f), cmd);
  for (const char* f : {"runs", "failed", "base_seed"})
    if (!j.contains(f) || !j[f].is_number_unsigned()) return not_a(in, fmt::format("\"{}\" missing or not a count", f), cmd);
  for (const char* f : {"scripted", "as_predicted"})
    if (!bool_or_absent(j, f)) return not_a(in, fmt::format("\"{}\" is not true/false", f), cmd);
  if (j.contains("first_failure") && !j["first_failure"].is_object()) return not_a(in, "\"first_failure\" is not an object", cmd);
  if (!j.contains("outcomes") || !j["outcomes"].is_object()) return not_a(in, "no \"outcomes\" histogram", cmd);
  for (auto it = j["outcomes"].begin(); it != j["outcomes"].end(); ++it)
    if (!it.value().is_number_unsigned()) return not_a(in, fmt::format("outcome \"{}\" is not a count", it.key()), cmd);
  return true;
}

Result<bool> check_gup_test_json(const ReportInput& in) {
  const char* cmd = "guplab gup_test ... --json";
  const json& j = in.json;
  if (!j.is_object()) return not_a(in, "not a JSON object", cmd);
  for (const char* f : {"cmd", "design"})
    if (!has_string(j, f)) return not_a(in, fmt::format("no \"{}\"", f), cmd);
  if (!j.contains("model") || !j["model"].is_object()) return not_a(in, "no \"model\" figures", cmd);
  for (const char* f : {"get_ns_per_page", "put_ns_per_page"})
    if (!j["model"].contains(f) || !j["model"][f].is_number()) return not_a(in, fmt::format("\"model\" has no \"{}\"", f), cmd);
  return true;
}

Result<bool> check_fio_json(const ReportInput& in) {
  const char* cmd = "guplab fio --output-format=json";
  const json& j = in.json;
  if (!j.is_object()) return not_a(in, "not a JSON object", cmd);
  if (!j.contains("jobs") || !j["jobs"].is_array()) return not_a(in, "no \"jobs\" array", cmd);
  for (const auto& job : j["jobs"])
    if (!job.is_object() || !has_string(job, "jobname")) return not_a(in, "a job without \"jobname\"", cmd);
  if (!j.contains("guplab") || !j["guplab"].is_object()) return not_a(in, "no \"guplab\" section (real fio's JSON?)", cmd);
  return true;
}

std::string render_report_html(const ReportInputs& in) {
  std::string out = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>guplab report</title>\n";
  out += kStyle;
  out += "</head>\n<body>\n<h1>guplab report</h1>\n<p id=\"summary\" class=\"note\"></p>\n<div id=\"tip\"></div>\n";
  if (in.matrices.empty()) out += "<h2>Scenario matrix</h2>\n<p class=\"note\">None given.</p>\n";
  for (const auto& m : in.matrices) out += matrix_section(m);
  out += explore_section(in.explorations);
  out += gup_test_section(in.gup_tests);
  out += fio_section(in.fios);
  out += kScript;
  out += "</body>\n</html>\n";
  return out;
}

}  // namespace guplab
