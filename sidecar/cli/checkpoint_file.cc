#include "sidecar/cli/checkpoint_file.h"
#include "sidecar/cli/progress.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <string_view>
#include <utility>
#include <vector>

#include "sidecar/base/digest.h"
#include "sidecar/cli/checkpoint_documents.h"
#include "store/checkpoint_store.h"
#include "store/sqlite.h"
#include "store/sqlite_checkpoint_store.h"

namespace tidemark::cli {

using detail::Fd;
using store::Manifest;

namespace {

// The checkpoint file (specified in docs/operations.md, "Checkpoint files"):
// magic, version, then records of kind (1 byte), length (8 bytes, big-endian)
// and payload: the manifest, each referenced blob once, and an end record
// that makes a truncated file detectable.
constexpr std::string_view kMagic = "\x89TMCKPT\n";
constexpr uint32_t kFileVersion = 1;
constexpr uint8_t kManifestRecord = 1, kBlobRecord = 2, kEndRecord = 3;
constexpr size_t kHashBytes = 32;
constexpr size_t kRecordHead = 9;

void putBigEndian(std::string& out, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t getBigEndian(std::string_view in) {
  uint64_t v = 0;
  for (unsigned char c : in) v = (v << 8) | c;
  return v;
}

std::string recordHead(uint8_t kind, uint64_t length) {
  std::string out(1, static_cast<char>(kind));
  putBigEndian(out, length, 8);
  return out;
}

// The distinct blobs a manifest references, in its order: hash -> size.
StatusOr<std::vector<std::pair<std::string, uint64_t>>> blobsOf(const Manifest& m) {
  std::vector<std::pair<std::string, uint64_t>> out;
  std::map<std::string, uint64_t> seen;
  for (const auto& ref : m.state()) {
    auto [it, fresh] = seen.emplace(ref.sha256(), ref.size());
    if (!fresh && it->second != ref.size()) return dataLoss("blob sizes disagree for " + ref.key());
    if (fresh) out.emplace_back(ref.sha256(), ref.size());
  }
  return out;
}

// A file written under a temporary name and renamed into place once synced,
// so FILE is either the previous file or the complete new one.
class OutFile {
 public:
  static StatusOr<OutFile> create(const std::string& path) {
    std::string temp = path + ".partial";
    // Owner-only: the file holds the application's state.
    Fd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (fd.get() < 0) return ioError("cannot write " + temp + ": " + std::strerror(errno));
    return OutFile(path, std::move(temp), std::move(fd));
  }
  OutFile(OutFile&& other) noexcept
      : path_(std::move(other.path_)),
        temp_(std::move(other.temp_)),
        fd_(std::move(other.fd_)),
        written_(other.written_),
        done_(std::exchange(other.done_, true)) {}
  ~OutFile() {
    if (!done_) ::unlink(temp_.c_str());
  }
  Status write(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::write(fd_.get(), data.data(), data.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return ioError("cannot write " + temp_ + ": " + std::strerror(errno));
      data.remove_prefix(static_cast<size_t>(n));
      written_ += static_cast<uint64_t>(n);
    }
    return Status::ok();
  }
  Status commit() {
    if (::fsync(fd_.get()) != 0)
      return ioError("cannot sync " + temp_ + ": " + std::strerror(errno));
    fd_ = Fd();
    if (::rename(temp_.c_str(), path_.c_str()) != 0) {
      return ioError("cannot rename " + temp_ + " to " + path_ + ": " + std::strerror(errno));
    }
    done_ = true;
    return Status::ok();
  }
  uint64_t written() const { return written_; }

 private:
  OutFile(std::string path, std::string temp, Fd fd)
      : path_(std::move(path)), temp_(std::move(temp)), fd_(std::move(fd)) {}
  std::string path_, temp_;
  Fd fd_;
  uint64_t written_ = 0;
  bool done_ = false;
};

StatusOr<uint64_t> writeExport(StoreReader& reader, const Manifest& m, const std::string& path) {
  if (m.format_version() != 1) return failedPrecondition("unknown manifest format version");
  TM_ASSIGN_OR_RETURN(auto blobs, blobsOf(m));
  uint64_t total = 0;
  for (const auto& [hash, size] : blobs) total += size;
  TM_ASSIGN_OR_RETURN(OutFile out, OutFile::create(path));
  std::string manifest;
  if (!m.SerializeToString(&manifest)) return internalError("manifest does not serialize");
  std::string head(kMagic);
  putBigEndian(head, kFileVersion, 4);
  TM_RETURN_IF_ERROR(out.write(head + recordHead(kManifestRecord, manifest.size()) + manifest));
  Progress progress("export", "written", total);
  constexpr size_t kChunk = 1 << 20;
  for (const auto& [hash, size] : blobs) {
    TM_ASSIGN_OR_RETURN(std::string data, reader.readBlob(hash));
    if (data.size() != size) return dataLoss("blob " + toHex(hash) + " has an unexpected size");
    TM_RETURN_IF_ERROR(out.write(recordHead(kBlobRecord, kHashBytes + data.size()) + hash));
    for (size_t at = 0; at < data.size(); at += kChunk) {
      const std::string_view chunk = std::string_view(data).substr(at, kChunk);
      TM_RETURN_IF_ERROR(out.write(chunk));
      progress.add(chunk.size());
    }
  }
  std::string end = recordHead(kEndRecord, 16 + kHashBytes);
  putBigEndian(end, blobs.size(), 8);
  putBigEndian(end, total, 8);
  TM_RETURN_IF_ERROR(out.write(end + sha256(manifest)));
  TM_RETURN_IF_ERROR(out.commit());
  return out.written();
}

// Reads exactly what the file holds, refusing lengths beyond its end before
// allocating for them (a corrupt length must not ask for terabytes).
class InFile {
 public:
  static StatusOr<InFile> open(const std::string& path) {
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    struct stat st {};
    if (fd.get() < 0 || ::fstat(fd.get(), &st) != 0) {
      return ioError("cannot read " + path + ": " + std::strerror(errno));
    }
    return InFile(path, std::move(fd), static_cast<uint64_t>(st.st_size));
  }
  StatusOr<std::string> read(uint64_t n) {
    if (n > left_) return dataLoss(path_ + " is truncated or corrupt");
    std::string out(n, '\0');
    for (size_t at = 0; at < n;) {
      ssize_t got = ::read(fd_.get(), out.data() + at, n - at);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) return ioError("cannot read " + path_ + ": " + std::strerror(errno));
      at += static_cast<size_t>(got);
    }
    left_ -= n;
    return out;
  }
  uint64_t left() const { return left_; }

 private:
  InFile(std::string path, Fd fd, uint64_t size)
      : path_(std::move(path)), fd_(std::move(fd)), left_(size) {}
  std::string path_;
  Fd fd_;
  uint64_t left_;
};

struct Exported {
  Manifest manifest;
  std::map<std::string, std::string> blobs;  // SHA-256 -> bytes, each verified
  uint64_t blob_bytes = 0;
};

// Verifies everything before anything is imported: the magic and version,
// every blob against its hash and the manifest's size, that the manifest's
// every blob is there, and the end record (nothing truncated or appended).
StatusOr<Exported> readExport(const std::string& path) {
  TM_ASSIGN_OR_RETURN(InFile in, InFile::open(path));
  auto magic = in.read(kMagic.size() + 4);
  if (!magic.isOk() || magic->substr(0, kMagic.size()) != kMagic) {
    return dataLoss(path + " is not a tidemark checkpoint file");
  }
  if (uint64_t v = getBigEndian(magic->substr(kMagic.size())); v != kFileVersion) {
    return failedPrecondition(path + ": checkpoint file version " + std::to_string(v) +
                              " is not one this tidemark reads (it reads 1)");
  }
  auto corrupt = [&](const std::string& what) { return dataLoss(path + ": " + what); };
  Exported out;
  std::vector<std::pair<std::string, uint64_t>> expected;
  std::map<std::string, uint64_t> sizes;
  uint64_t total = 0;
  std::optional<Progress> progress;
  std::string manifest_hash;
  while (true) {
    TM_ASSIGN_OR_RETURN(std::string head, in.read(kRecordHead));
    const uint8_t kind = static_cast<uint8_t>(head[0]);
    TM_ASSIGN_OR_RETURN(std::string payload, in.read(getBigEndian(head.substr(1))));
    if ((kind == kManifestRecord) != manifest_hash.empty()) return corrupt("records out of order");
    if (kind == kManifestRecord) {
      if (!out.manifest.ParseFromString(payload)) return corrupt("the manifest does not parse");
      if (out.manifest.format_version() != 1) return corrupt("unknown manifest format version");
      TM_ASSIGN_OR_RETURN(expected, blobsOf(out.manifest));
      for (const auto& [hash, size] : expected) sizes[hash] = size, total += size;
      manifest_hash = sha256(payload);
      progress.emplace("import", "verified", total);
    } else if (kind == kBlobRecord) {
      if (payload.size() < kHashBytes) return corrupt("a blob record is too short");
      const std::string hash = payload.substr(0, kHashBytes);
      std::string data = payload.substr(kHashBytes);
      auto it = sizes.find(hash);
      if (it == sizes.end() || out.blobs.count(hash))
        return corrupt("unexpected blob " + toHex(hash));
      if (data.size() != it->second || sha256(data) != hash) {
        return corrupt("blob " + toHex(hash) + " does not match its SHA-256");
      }
      progress->add(data.size());
      out.blob_bytes += data.size();
      out.blobs.emplace(hash, std::move(data));
    } else if (kind == kEndRecord) {
      if (payload.size() != 16 + kHashBytes || in.left() != 0 ||
          getBigEndian(payload.substr(0, 8)) != out.blobs.size() ||
          getBigEndian(payload.substr(8, 8)) != out.blob_bytes ||
          payload.substr(16) != manifest_hash) {
        return corrupt("the end record does not match the file");
      }
      break;
    } else {
      return corrupt("unknown record kind " + std::to_string(kind));
    }
  }
  for (const auto& [hash, size] : expected) {
    if (!out.blobs.count(hash)) return corrupt("blob " + toHex(hash) + " is missing");
  }
  return out;
}

// In WAL mode every open connection holds a shared lock on the database
// file, so an exclusive one is refused at once while a sidecar (or anyone)
// has the store open. Released before the import opens the store itself,
// which leaves a small window: the documented rule is a stopped sidecar.
}  // namespace

Status exportCheckpoint(StoreSource& source, std::optional<uint64_t> id, const std::string& file) {
  TM_ASSIGN_OR_RETURN(Manifest m, resolve(source, id));
  auto written = writeExport(source.reader(), m, file);
  if (!written.isOk()) return written.status().withPrefix("export to " + file);
  const Summary s = summaryOf(m);
  std::printf(
      "exported checkpoint %llu (%lld partitions, %lld state keys, %s of state) to %s (%s)\n",
      static_cast<unsigned long long>(s.id), static_cast<long long>(s.partitions),
      static_cast<long long>(s.state_keys), humanBytes(s.state_bytes).c_str(), file.c_str(),
      humanBytes(*written).c_str());
  return Status::ok();
}

Status importCheckpoint(const std::string& store_path, const std::string& file) {
  TM_ASSIGN_OR_RETURN(Exported exported, readExport(file));
  std::error_code ec;
  if (std::filesystem::exists(store_path, ec)) {
    TM_RETURN_IF_ERROR(checkNotInUse(store_path, "import"));
  }
  // Import never prunes (it does not compact): the sidecar's next
  // checkpoint applies checkpoint.retained.
  auto store = store::SqliteCheckpointStore::open(store_path, /*retained=*/1);
  if (!store.isOk()) return store.status().withPrefix("store " + store_path);
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  TM_ASSIGN_OR_RETURN(uint64_t id, (*store)->nextId(now_ms));
  Manifest m = exported.manifest;
  m.set_id(id);
  m.set_created_at_ms(now_ms);
  m.set_trigger("import");
  const auto& blobs = exported.blobs;
  Status s = (*store)->commit(m, [&](const std::string& hash) -> std::optional<std::string_view> {
    auto it = blobs.find(hash);
    return it == blobs.end() ? std::nullopt : std::optional<std::string_view>(it->second);
  });
  if (!s.isOk()) return s.withPrefix("store " + store_path);
  std::printf(
      "imported checkpoint %llu of job %s as checkpoint %llu into %s (%d partitions, %d state "
      "keys, %s of state); the sidecar restores it when it next starts\n",
      static_cast<unsigned long long>(exported.manifest.id()), m.job_id().c_str(),
      static_cast<unsigned long long>(m.id()), store_path.c_str(), m.offsets_size(), m.state_size(),
      humanBytes(exported.blob_bytes).c_str());
  return Status::ok();
}

}  // namespace tidemark::cli
