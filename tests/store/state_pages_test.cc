#include "store/state_pages.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace tidemark::store {
namespace {

v1::Manifest withKeys(int count, int changed = -1, int skipped = -1) {
  v1::Manifest m;
  for (int i = 0; i < count; ++i) {
    if (i == skipped) continue;
    v1::StateRef* ref = m.add_state();
    ref->set_key("counts/key-" + std::to_string(i));
    ref->set_sha256(std::string(32, static_cast<char>(i == changed ? 'x' : 'a')));
    ref->set_size(100 + static_cast<uint64_t>(i));
    ref->set_content_type("application/json");
  }
  return m;
}

std::set<std::string> asSet(const std::vector<std::string>& pages) {
  return {pages.begin(), pages.end()};
}

size_t notIn(const std::vector<std::string>& pages, const std::set<std::string>& other) {
  size_t n = 0;
  for (const auto& p : pages) n += other.count(p) == 0 ? 1 : 0;
  return n;
}

TEST(StatePagesTest, ShouldConcatenateToTheEncodingOfTheStateList) {
  const v1::Manifest m = withKeys(5000);
  const auto pages = statePages(m, 512 * 1024);
  EXPECT_GT(pages.size(), 10u);
  std::string all;
  for (const auto& p : pages) all += p;
  v1::Manifest back;
  ASSERT_TRUE(back.ParseFromString(all));
  EXPECT_EQ(back.SerializeAsString(), m.SerializeAsString());
  v1::Manifest merged;  // as a reader does: page by page
  for (const auto& p : pages) ASSERT_TRUE(merged.MergeFromString(p));
  EXPECT_EQ(merged.SerializeAsString(), m.SerializeAsString());
}

TEST(StatePagesTest, ShouldChangeOnlyTheChangedEntrysPageWhenOneValueChanges) {
  const auto before = statePages(withKeys(5000), 512 * 1024);
  const auto after = statePages(withKeys(5000, /*changed=*/2500), 512 * 1024);
  ASSERT_EQ(before.size(), after.size());
  EXPECT_EQ(notIn(after, asSet(before)), 1u);
}

TEST(StatePagesTest, ShouldChangeAtMostTwoPagesWhenAKeyIsAddedOrRemoved) {
  const auto all = statePages(withKeys(5000), 512 * 1024);
  const auto fewer = statePages(withKeys(5000, -1, /*skipped=*/1234), 512 * 1024);
  EXPECT_LE(notIn(fewer, asSet(all)), 2u);
  EXPECT_LE(notIn(all, asSet(fewer)), 2u);
}

TEST(StatePagesTest, ShouldKeepPagesWithinTheLimitUnlessOneEntryIsLarger) {
  const v1::Manifest m = withKeys(2000);
  for (const auto& p : statePages(m, 1024)) EXPECT_LE(p.size(), 1024u);
  v1::Manifest huge;
  huge.add_state()->set_key(std::string(4000, 'k'));
  const auto pages = statePages(huge, 1024);
  ASSERT_EQ(pages.size(), 1u);
  EXPECT_GT(pages[0].size(), 4000u);
}

TEST(StatePagesTest, ShouldMakeAboutAThousandPagesAtMostHoweverLongTheList) {
  EXPECT_LE(statePages(withKeys(200000), 512 * 1024).size(), 2048u);
  EXPECT_TRUE(statePages(v1::Manifest{}, 1024).empty());
}

}  // namespace
}  // namespace tidemark::store
