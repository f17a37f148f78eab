#include "sidecar/metrics/registry.h"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace tidemark::metrics {
namespace {

void atomicAdd(std::atomic<double>& a, double by) {
  double now = a.load(std::memory_order_relaxed);
  while (!a.compare_exchange_weak(now, now + by, std::memory_order_relaxed)) {
  }
}

// Prometheus' number format: integers without a fraction, +Inf/-Inf/NaN by name.
std::string number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[40];
  // The shortest text that reads back as the same double (0.1, not 0.1000...01).
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  return std::string(buf, ec == std::errc() ? end : buf);
}

std::string escapeLabel(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string escapeHelp(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string labelText(const Labels& labels, const std::string& extra_name = "",
                      const std::string& extra_value = "") {
  if (labels.empty() && extra_name.empty()) return "";
  std::string out = "{";
  bool first = true;
  for (const auto& [k, v] : labels) {
    out += (first ? "" : ",") + k + "=\"" + escapeLabel(v) + "\"";
    first = false;
  }
  if (!extra_name.empty()) out += (first ? "" : ",") + extra_name + "=\"" + extra_value + "\"";
  return out + "}";
}

}  // namespace

void Counter::inc(double by) { atomicAdd(value_, by); }
void Gauge::add(double by) { atomicAdd(value_, by); }

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  std::sort(bounds_.begin(), bounds_.end());
  for (size_t i = 0; i <= bounds_.size(); ++i) counts_[i].store(0);
}

void Histogram::observe(double v) {
  const size_t i = std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin();
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  atomicAdd(sum_, v);
}

std::vector<uint64_t> Histogram::cumulative() const {
  std::vector<uint64_t> out(bounds_.size() + 1);
  uint64_t running = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    running += counts_[i].load(std::memory_order_relaxed);
    out[i] = running;
  }
  return out;
}

std::vector<double> exponentialBounds(double start, double factor, int count) {
  std::vector<double> out;
  double b = start;
  for (int i = 0; i < count; ++i, b *= factor) out.push_back(b);
  return out;
}

Registry::Child& Registry::child(const std::string& name, const std::string& help, Type type,
                                 Labels labels) {
  std::sort(labels.begin(), labels.end());
  auto [it, added] = families_.try_emplace(name, Family{type, help, {}});
  return it->second.children[labels];
}

Counter& Registry::counter(const std::string& name, const std::string& help, Labels labels) {
  std::lock_guard<std::mutex> l(mu_);
  Child& c = child(name, help, Type::kCounter, std::move(labels));
  if (!c.counter) c.counter = std::make_unique<Counter>();
  return *c.counter;
}

Gauge& Registry::gauge(const std::string& name, const std::string& help, Labels labels) {
  std::lock_guard<std::mutex> l(mu_);
  Child& c = child(name, help, Type::kGauge, std::move(labels));
  if (!c.gauge) c.gauge = std::make_unique<Gauge>();
  return *c.gauge;
}

void Registry::gaugeFn(const std::string& name, const std::string& help, std::function<double()> fn,
                       Labels labels) {
  std::lock_guard<std::mutex> l(mu_);
  child(name, help, Type::kGauge, std::move(labels)).fn = std::move(fn);
}

Histogram& Registry::histogram(const std::string& name, const std::string& help,
                               const std::vector<double>& bounds, Labels labels) {
  std::lock_guard<std::mutex> l(mu_);
  Child& c = child(name, help, Type::kHistogram, std::move(labels));
  if (!c.histogram) c.histogram = std::make_unique<Histogram>(bounds);
  return *c.histogram;
}

void Registry::remove(const std::string& name, Labels labels) {
  std::lock_guard<std::mutex> l(mu_);
  std::sort(labels.begin(), labels.end());
  auto it = families_.find(name);
  if (it != families_.end()) it->second.children.erase(labels);
}

std::string Registry::render() const {
  std::lock_guard<std::mutex> l(mu_);
  std::string out;
  for (const auto& [name, family] : families_) {
    static const char* kTypes[] = {"counter", "gauge", "histogram"};
    out += "# HELP " + name + " " + escapeHelp(family.help) + "\n";
    out += "# TYPE " + name + " " + kTypes[static_cast<int>(family.type)] + "\n";
    for (const auto& [labels, c] : family.children) {
      if (c.histogram) {
        const auto counts = c.histogram->cumulative();
        const auto& bounds = c.histogram->bounds();
        for (size_t i = 0; i <= bounds.size(); ++i) {
          const std::string le = i < bounds.size() ? number(bounds[i]) : "+Inf";
          out += name + "_bucket" + labelText(labels, "le", le) + " " + number(counts[i]) + "\n";
        }
        out += name + "_sum" + labelText(labels) + " " + number(c.histogram->sum()) + "\n";
        out += name + "_count" + labelText(labels) + " " + number(counts.back()) + "\n";
        continue;
      }
      double v = c.counter ? c.counter->value() : c.gauge ? c.gauge->value() : c.fn ? c.fn() : 0;
      out += name + labelText(labels) + " " + number(v) + "\n";
    }
  }
  return out;
}

}  // namespace tidemark::metrics
