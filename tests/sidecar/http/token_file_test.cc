#include "sidecar/http/token_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace tidemark::http {
namespace {

class TokenFileTest : public testing::Test {
 protected:
  void SetUp() override {
    loop_ = std::move(event::EventLoop::create()).value();
    path_ = std::filesystem::temp_directory_path() /
            ("tidemark-token-" + std::to_string(::getpid()) + "-" +
             testing::UnitTest::GetInstance()->current_test_info()->name());
  }
  void TearDown() override { std::filesystem::remove(path_); }
  // Replaces the file the way a Secret update does: a new inode renamed over.
  void write(const std::string& text) {
    auto tmp = path_.string() + ".new";
    std::ofstream(tmp) << text;
    std::filesystem::rename(tmp, path_);
  }

  std::unique_ptr<event::EventLoop> loop_;
  std::filesystem::path path_;
};

TEST_F(TokenFileTest, ShouldAcceptOnlyTheBearerTokenInTheFile) {
  write("s3cret\n");
  auto token = std::move(TokenFile::open(*loop_, path_.string())).value();
  EXPECT_TRUE(token->accepts("Bearer s3cret"));
  EXPECT_TRUE(token->accepts("bearer s3cret"));
  EXPECT_FALSE(token->accepts("Bearer s3cret\n"));
  EXPECT_FALSE(token->accepts("Bearer s3cre"));
  EXPECT_FALSE(token->accepts("Bearer s3crett"));
  EXPECT_FALSE(token->accepts("Basic s3cret"));
  EXPECT_FALSE(token->accepts("s3cret"));
  EXPECT_FALSE(token->accepts(""));
}

TEST_F(TokenFileTest, ShouldTakeARotatedTokenWithoutRestart) {
  write("old-token");
  auto token = std::move(TokenFile::open(*loop_, path_.string())).value();
  write("new-token-longer");
  token->reload();
  EXPECT_TRUE(token->accepts("Bearer new-token-longer"));
  EXPECT_FALSE(token->accepts("Bearer old-token"));
}

TEST_F(TokenFileTest, ShouldKeepThePreviousTokenWhenTheNewFileIsEmptyOrGone) {
  write("kept");
  auto token = std::move(TokenFile::open(*loop_, path_.string())).value();
  write("\n");
  token->reload();
  EXPECT_TRUE(token->accepts("Bearer kept"));
  std::filesystem::remove(path_);
  token->reload();
  EXPECT_TRUE(token->accepts("Bearer kept"));
}

TEST_F(TokenFileTest, ShouldRefuseToStartWithAnEmptyOrMissingFile) {
  EXPECT_FALSE(TokenFile::open(*loop_, path_.string()).isOk());
  write("  \n");
  auto empty = TokenFile::open(*loop_, path_.string());
  ASSERT_FALSE(empty.isOk());
  EXPECT_NE(empty.status().message().find("is empty"), std::string::npos);
}

}  // namespace
}  // namespace tidemark::http
