#include "sidecar/base/status.h"

#include <gtest/gtest.h>

namespace tidemark {
namespace {

StatusOr<int> half(int n) {
  if (n % 2 != 0) return invalidArgument(std::to_string(n) + " is odd");
  return n / 2;
}

StatusOr<int> quarter(int n) {
  TM_ASSIGN_OR_RETURN(int h, half(n));
  TM_ASSIGN_OR_RETURN(int q, half(h));
  return q;
}

Status checkEven(int n) {
  TM_RETURN_IF_ERROR(half(n).status());
  return Status::ok();
}

TEST(StatusTest, ShouldBeOkWhenDefaultConstructed) {
  Status s;
  EXPECT_TRUE(s.isOk());
  EXPECT_EQ(s.toString(), "OK");
}

TEST(StatusTest, ShouldCarryCodeAndMessageWhenAnError) {
  Status s = notFound("no such key");
  EXPECT_FALSE(s.isOk());
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_EQ(s.toString(), "NotFound: no such key");
}

TEST(StatusTest, ShouldPrefixContextWhenAnErrorTravelsUp) {
  EXPECT_EQ(ioError("disk full").withPrefix("store").message(), "store: disk full");
  EXPECT_TRUE(Status::ok().withPrefix("store").isOk());
}

TEST(StatusOrTest, ShouldPropagateTheFirstErrorThroughAssignOrReturn) {
  EXPECT_EQ(*quarter(8), 2);
  StatusOr<int> odd = quarter(6);  // 6 -> 3, then 3 is odd
  ASSERT_FALSE(odd.isOk());
  EXPECT_EQ(odd.status().message(), "3 is odd");
}

TEST(StatusOrTest, ShouldReturnEarlyFromReturnIfError) {
  EXPECT_TRUE(checkEven(4).isOk());
  EXPECT_EQ(checkEven(5).code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tidemark
