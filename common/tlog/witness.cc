#include "common/tlog/witness.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "common/tlog/note.h"

namespace booking::tlog {
namespace {

absl::Status Errno(absl::string_view what, const std::string& path) {
  return absl::InternalError(absl::StrCat("cannot ", what, " ", path, ": ", std::strerror(errno)));
}

// Writes all of `data` to `fd`, then fsync.
bool WriteAll(int fd, absl::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return ::fsync(fd) == 0;
}

std::string DirectoryOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

absl::StatusOr<Checkpoint> CheckNextCheckpoint(const Checkpoint& trusted,
                                               absl::string_view next_note,
                                               absl::Span<const Hash> consistency_proof,
                                               absl::Span<const NoteVerifier> verifiers) {
  absl::StatusOr<Checkpoint> next = OpenCheckpoint(next_note, verifiers);
  if (!next.ok()) return next.status();
  if (next->origin != trusted.origin) {
    return absl::FailedPreconditionError(
        absl::StrCat("checkpoint of log \"", next->origin, "\", not of \"", trusted.origin, "\""));
  }
  if (next->size < trusted.size) {
    return absl::FailedPreconditionError(absl::StrCat("checkpoint of size ", next->size,
                                                      " is older than the trusted size ",
                                                      trusted.size, " (a rollback)"));
  }
  if (trusted.size == 0) {
    // Every tree extends the empty one; there is nothing to prove.
    if (!consistency_proof.empty() || trusted.root != EmptyRoot()) {
      return absl::InvalidArgumentError(
          "a trusted empty tree has the empty root and needs an empty consistency proof");
    }
    if (next->size == 0 && next->root != EmptyRoot()) {
      return absl::DataLossError("checkpoint of size 0 whose root is not the empty tree's");
    }
    return next;
  }
  absl::Status consistent =
      VerifyConsistency(trusted.size, next->size, trusted.root, next->root, consistency_proof);
  if (!consistent.ok()) {
    return absl::Status(consistent.code(),
                        absl::StrCat("checkpoint of size ", next->size,
                                     " is not consistent with the trusted one of size ",
                                     trusted.size, ": ", consistent.message()));
  }
  return next;
}

absl::StatusOr<Checkpoint> LoadTrustedCheckpoint(const std::string& path,
                                                 absl::Span<const NoteVerifier> verifiers) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("no trusted checkpoint file ", path));
  std::ostringstream text;
  text << in.rdbuf();
  absl::StatusOr<Checkpoint> checkpoint = OpenCheckpoint(text.str(), verifiers);
  if (!checkpoint.ok()) {
    return absl::Status(
        checkpoint.status().code(),
        absl::StrCat("trusted checkpoint file ", path, ": ", checkpoint.status().message()));
  }
  return checkpoint;
}

absl::Status StoreTrustedCheckpoint(const std::string& path, absl::string_view note) {
  const std::string temp = absl::StrCat(path, ".tmp.", ::getpid());
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Errno("create", temp);
  const bool written = WriteAll(fd, note);
  if (::close(fd) != 0 || !written) {
    absl::Status s = Errno("write", temp);
    ::unlink(temp.c_str());
    return s;
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    absl::Status s = Errno("rename over", path);
    ::unlink(temp.c_str());
    return s;
  }
  const std::string dir = DirectoryOf(path);
  const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) return Errno("open directory", dir);
  const bool synced = ::fsync(dir_fd) == 0;
  ::close(dir_fd);
  if (!synced) return Errno("sync directory", dir);
  return absl::OkStatus();
}

}  // namespace booking::tlog
