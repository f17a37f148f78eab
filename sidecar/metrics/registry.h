#pragma once

// Metrics in Prometheus' text exposition format (version 0.0.4): counters,
// gauges (set, or computed when scraped) and histograms, in families by name,
// each child identified by its label values. Conventions: base units
// (seconds, bytes), `_total` only on counters, snake_case names prefixed
// `tidemark_`.
//
// Contract: registering returns a reference that stays valid for the
// registry's lifetime; asking again with the same name and labels returns
// the same child. Updates are lock-free atomics (safe from any thread);
// registration and render() take a mutex. A family keeps the type and help
// of its first registration.

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace tidemark::metrics {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void inc(double by = 1.0);
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

class Gauge {
 public:
  void set(double v) { value_.store(v, std::memory_order_relaxed); }
  void add(double by);
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

class Histogram {
 public:
  // `bounds`: the buckets' upper bounds, ascending; +Inf is implied.
  explicit Histogram(std::vector<double> bounds);
  void observe(double v);

  const std::vector<double>& bounds() const { return bounds_; }
  // Cumulative counts per bound, then +Inf; and the sum of observations.
  std::vector<uint64_t> cumulative() const;
  double sum() const { return sum_.load(std::memory_order_relaxed); }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // per bucket, +Inf last
  std::atomic<double> sum_{0.0};
};

// Exponential bounds: start, start*factor, ... (count of them).
std::vector<double> exponentialBounds(double start, double factor, int count);

class Registry {
 public:
  Counter& counter(const std::string& name, const std::string& help, Labels labels = {});
  Gauge& gauge(const std::string& name, const std::string& help, Labels labels = {});
  // A gauge whose value is computed by `fn` at each scrape (on the scraping
  // thread): for values such as "seconds since the last checkpoint".
  void gaugeFn(const std::string& name, const std::string& help, std::function<double()> fn,
               Labels labels = {});
  Histogram& histogram(const std::string& name, const std::string& help,
                       const std::vector<double>& bounds, Labels labels = {});

  // Removes one labelled child (a partition that is no longer this
  // instance's). Whoever asked for it must not use it afterwards.
  void remove(const std::string& name, Labels labels);

  // The exposition text, families sorted by name, children by labels.
  std::string render() const;

 private:
  enum class Type { kCounter, kGauge, kHistogram };
  struct Child {
    std::unique_ptr<Counter> counter;
    std::unique_ptr<Gauge> gauge;
    std::function<double()> fn;
    std::unique_ptr<Histogram> histogram;
  };
  struct Family {
    Type type;
    std::string help;
    std::map<Labels, Child> children;
  };
  Child& child(const std::string& name, const std::string& help, Type type, Labels labels);

  mutable std::mutex mu_;
  std::map<std::string, Family> families_;
};

}  // namespace tidemark::metrics
