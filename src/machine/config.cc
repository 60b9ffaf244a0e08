// config.cc - names of designs, policies and backends; size parsing.
#include "machine/config.h"

#include "machine/registry.h"

#include <cctype>
#include <iterator>

namespace guplab {

const char* to_string(PinDesign d) {
  switch (d) {
#define GUPLAB_PIN_DESIGN_NAME(name, type, desc) \
  case PinDesign::name: return #name;
    GUPLAB_PIN_DESIGNS(GUPLAB_PIN_DESIGN_NAME)
#undef GUPLAB_PIN_DESIGN_NAME
  }
  const RegisteredPinDesign* r = find_registered_pin_design(d);
  return r ? r->name.c_str() : "?";
}

const char* describe(PinDesign d) {
  switch (d) {
#define GUPLAB_PIN_DESIGN_DESC(name, type, desc) \
  case PinDesign::name: return desc;
    GUPLAB_PIN_DESIGNS(GUPLAB_PIN_DESIGN_DESC)
#undef GUPLAB_PIN_DESIGN_DESC
  }
  const RegisteredPinDesign* r = find_registered_pin_design(d);
  return r ? r->description.c_str() : "?";
}

const char* to_string(WritebackPolicy p) {
  if (static_cast<unsigned>(p) < kNumBuiltinWbPolicies) return wb_policy_row(p).name;
  const RegisteredWbPolicy* r = find_registered_wb_policy(p);
  return r ? r->row.name : "?";
}

const char* to_string(Backend b) { return b == Backend::native ? "native" : "sim"; }
const char* to_string(LongtermRules r) { return r == LongtermRules::seed ? "seed" : "upstream"; }

std::optional<LongtermRules> parse_longterm_rules(std::string_view s) {
  if (s == "seed") return LongtermRules::seed;
  if (s == "upstream") return LongtermRules::upstream;
  return std::nullopt;
}

std::optional<PinDesign> parse_pin_design(std::string_view s) {
  for (PinDesign d : all_pin_designs())
    if (s == to_string(d)) return d;
  return std::nullopt;
}

const char* to_string(CowReuse r) { return r == CowReuse::refcount ? "refcount" : "mapcount"; }

std::optional<CowReuse> parse_cow_reuse(std::string_view s) {
  if (s == "refcount") return CowReuse::refcount;
  if (s == "mapcount") return CowReuse::mapcount;
  return std::nullopt;
}

std::optional<WritebackPolicy> parse_writeback_policy(std::string_view s) {
  for (WritebackPolicy p : all_writeback_policies())
    if (s == to_string(p)) return p;
  return std::nullopt;
}

std::optional<uint64_t> parse_size(std::string_view s) {
  if (s.empty()) return std::nullopt;
  uint64_t v = 0;
  size_t i = 0;
  for (; i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])); i++) {
    uint64_t nv = v * 10 + static_cast<uint64_t>(s[i] - '0');
    if (nv / 10 != v) return std::nullopt;
    v = nv;
  }
  if (i == 0) return std::nullopt;
  std::string_view suf = s.substr(i);
  unsigned shift = 0;
  if (suf.empty()) shift = 0;
  else if (suf == "k" || suf == "K" || suf == "KiB" || suf == "kb" || suf == "KB") shift = 10;
  else if (suf == "m" || suf == "M" || suf == "MiB" || suf == "mb" || suf == "MB") shift = 20;
  else if (suf == "g" || suf == "G" || suf == "GiB" || suf == "gb" || suf == "GB") shift = 30;
  else if (suf == "t" || suf == "T" || suf == "TiB") shift = 40;
  else return std::nullopt;
  if (shift && (v >> (64 - shift)) != 0) return std::nullopt;
  return v << shift;
}

}  // namespace guplab
