#include "sidecar/metrics/registry.h"

#include <gtest/gtest.h>

namespace tidemark::metrics {
namespace {

TEST(RegistryTest, ShouldRenderEachTypeInPrometheusTextFormat) {
  Registry r;
  r.counter("tidemark_things_total", "Things.", {{"kind", "a"}}).inc(3);
  r.gauge("tidemark_level", "A level.").set(2.5);
  r.gaugeFn("tidemark_computed", "Computed at scrape.", [] { return 7.0; });
  Histogram& h = r.histogram("tidemark_wait_seconds", "Waits.", {0.1, 1});
  h.observe(0.05);
  h.observe(0.5);
  h.observe(5);
  EXPECT_EQ(r.render(),
            "# HELP tidemark_computed Computed at scrape.\n"
            "# TYPE tidemark_computed gauge\n"
            "tidemark_computed 7\n"
            "# HELP tidemark_level A level.\n"
            "# TYPE tidemark_level gauge\n"
            "tidemark_level 2.5\n"
            "# HELP tidemark_things_total Things.\n"
            "# TYPE tidemark_things_total counter\n"
            "tidemark_things_total{kind=\"a\"} 3\n"
            "# HELP tidemark_wait_seconds Waits.\n"
            "# TYPE tidemark_wait_seconds histogram\n"
            "tidemark_wait_seconds_bucket{le=\"0.1\"} 1\n"
            "tidemark_wait_seconds_bucket{le=\"1\"} 2\n"
            "tidemark_wait_seconds_bucket{le=\"+Inf\"} 3\n"
            "tidemark_wait_seconds_sum 5.55\n"
            "tidemark_wait_seconds_count 3\n");
}

TEST(RegistryTest, ShouldReturnTheSameChildForTheSameLabelsInAnyOrder) {
  Registry r;
  Counter& a = r.counter("c_total", "h", {{"x", "1"}, {"y", "2"}});
  Counter& b = r.counter("c_total", "h", {{"y", "2"}, {"x", "1"}});
  EXPECT_EQ(&a, &b);
  EXPECT_NE(&a, &r.counter("c_total", "h", {{"x", "other"}}));
}

TEST(RegistryTest, ShouldEscapeLabelValuesAndHelpText) {
  Registry r;
  r.counter("c_total", "line one\nback\\slash", {{"path", "a\"b\\c\nd"}}).inc();
  EXPECT_EQ(r.render(),
            "# HELP c_total line one\\nback\\\\slash\n"
            "# TYPE c_total counter\n"
            "c_total{path=\"a\\\"b\\\\c\\nd\"} 1\n");
}

TEST(RegistryTest, ShouldPrintLargeIntegersExactly) {
  Registry r;
  r.gauge("id", "An id.").set(1795697837323000.0);
  EXPECT_NE(r.render().find("id 1795697837323000\n"), std::string::npos);
}

}  // namespace
}  // namespace tidemark::metrics
