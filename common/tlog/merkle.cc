#include "common/tlog/merkle.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cstdlib>
#include <limits>
#include <memory>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace booking::tlog {
namespace {

// OpenSSL's SHA-256 (libcrypto picks the CPU's SHA extensions: about 3x
// libsodium's portable code on a 65-byte node), one context per thread
// reused. Failures of these calls are allocation failures: abort, as new.
const EVP_MD* Sha256Md() {
  static const EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  if (md == nullptr) std::abort();
  return md;
}

class Sha256 {
 public:
  Sha256() : ctx_(Context()) {
    if (EVP_DigestInit_ex(ctx_, Sha256Md(), nullptr) != 1) std::abort();
  }
  Sha256& Add(const void* data, size_t size) {
    if (EVP_DigestUpdate(ctx_, data, size) != 1) std::abort();
    return *this;
  }
  Hash Finish() {
    Hash out;
    unsigned int size = 0;
    if (EVP_DigestFinal_ex(ctx_, out.data(), &size) != 1 || size != kHashSize) std::abort();
    return out;
  }

 private:
  static EVP_MD_CTX* Context() {
    struct Free {
      void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
    };
    thread_local const std::unique_ptr<EVP_MD_CTX, Free> ctx(EVP_MD_CTX_new());
    if (ctx == nullptr) std::abort();
    return ctx.get();
  }

  EVP_MD_CTX* ctx_;  // this thread's; one Sha256 at a time per thread
};

int BitLength(uint64_t x) { return x == 0 ? 0 : 64 - __builtin_clzll(x); }

// The largest power of two below n (n >= 2): RFC 9162's k.
uint64_t Split(uint64_t n) { return uint64_t{1} << (BitLength(n - 1) - 1); }

Hash RangeRoot(absl::Span<const Hash> leaves, uint64_t begin, uint64_t end) {
  if (end - begin == 1) return leaves[begin];
  const uint64_t k = Split(end - begin);
  return NodeHash(RangeRoot(leaves, begin, begin + k), RangeRoot(leaves, begin + k, end));
}

// PATH(index, D[begin:end]) of RFC 9162 2.1.3.1.
void PathRanges(uint64_t index, uint64_t begin, uint64_t end, std::vector<LeafRange>& out) {
  if (end - begin <= 1) return;
  const uint64_t k = Split(end - begin);
  if (index < begin + k) {
    PathRanges(index, begin, begin + k, out);
    out.push_back({begin + k, end});
  } else {
    PathRanges(index, begin + k, end, out);
    out.push_back({begin, begin + k});
  }
}

// SUBPROOF(m - begin, D[begin:end], whole) of RFC 9162 2.1.4.1; the old tree
// is D[0:m].
void SubproofRanges(uint64_t m, uint64_t begin, uint64_t end, bool whole,
                    std::vector<LeafRange>& out) {
  if (m == end) {
    if (!whole) out.push_back({begin, end});
    return;
  }
  const uint64_t k = Split(end - begin);
  if (m <= begin + k) {
    SubproofRanges(m, begin, begin + k, whole, out);
    out.push_back({begin + k, end});
  } else {
    SubproofRanges(m, begin + k, end, false, out);
    out.push_back({begin, begin + k});
  }
}

std::vector<Hash> Resolve(absl::Span<const Hash> leaves, const std::vector<LeafRange>& ranges) {
  std::vector<Hash> out;
  out.reserve(ranges.size());
  for (const LeafRange& r : ranges) out.push_back(RangeRoot(leaves, r.begin, r.end));
  return out;
}

absl::Status Mismatch(absl::string_view what) {
  return absl::DataLossError(
      absl::StrCat(what, ": the proof's hashes do not lead to the root (altered data or proof)"));
}

}  // namespace

Hash EmptyRoot() { return Sha256().Finish(); }

Hash LeafHash(absl::string_view data) {
  const uint8_t prefix = 0x00;
  return Sha256().Add(&prefix, 1).Add(data.data(), data.size()).Finish();
}

Hash NodeHash(const Hash& left, const Hash& right) {
  const uint8_t prefix = 0x01;
  return Sha256().Add(&prefix, 1).Add(left.data(), kHashSize).Add(right.data(), kHashSize).Finish();
}

absl::StatusOr<Hash> HashFromBytes(absl::string_view bytes) {
  if (bytes.size() != kHashSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("a SHA-256 hash is ", kHashSize, " bytes, not ", bytes.size()));
  }
  Hash out;
  std::copy(bytes.begin(), bytes.end(), out.begin());
  return out;
}

std::string HashToBytes(const Hash& hash) { return std::string(hash.begin(), hash.end()); }

std::string HashToHex(const Hash& hash) { return absl::BytesToHexString(HashToBytes(hash)); }

Hash RootOf(absl::Span<const Hash> leaves) {
  if (leaves.empty()) return EmptyRoot();
  return RangeRoot(leaves, 0, leaves.size());
}

absl::StatusOr<std::vector<LeafRange>> InclusionProofRanges(uint64_t index, uint64_t size) {
  if (index >= size) {
    return absl::InvalidArgumentError(absl::StrCat("leaf index ", index,
                                                   " is not in a tree of size ", size,
                                                   " (an index must be below the size)"));
  }
  std::vector<LeafRange> out;
  PathRanges(index, 0, size, out);
  return out;
}

absl::StatusOr<std::vector<LeafRange>> ConsistencyProofRanges(uint64_t old_size,
                                                              uint64_t new_size) {
  if (old_size == 0 || old_size > new_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("no consistency proof from size ", old_size, " to size ", new_size,
                     " (the old size must be at least 1 and at most the new size)"));
  }
  std::vector<LeafRange> out;
  if (old_size < new_size) SubproofRanges(old_size, 0, new_size, true, out);
  return out;
}

absl::StatusOr<std::vector<Hash>> InclusionProof(absl::Span<const Hash> leaves, uint64_t index) {
  absl::StatusOr<std::vector<LeafRange>> ranges = InclusionProofRanges(index, leaves.size());
  if (!ranges.ok()) return ranges.status();
  return Resolve(leaves, *ranges);
}

absl::StatusOr<std::vector<Hash>> ConsistencyProof(absl::Span<const Hash> leaves,
                                                   uint64_t old_size) {
  absl::StatusOr<std::vector<LeafRange>> ranges = ConsistencyProofRanges(old_size, leaves.size());
  if (!ranges.ok()) return ranges.status();
  return Resolve(leaves, *ranges);
}

absl::StatusOr<size_t> InclusionProofLength(uint64_t index, uint64_t size) {
  if (index >= size) return InclusionProofRanges(index, size).status();
  // The paths to `index` and to the last leaf part at `inner` levels up;
  // above that, one hash per level where the path is a right child.
  const int inner = BitLength(index ^ (size - 1));
  return inner + __builtin_popcountll(inner == 64 ? 0 : index >> inner);
}

absl::StatusOr<size_t> ConsistencyProofLength(uint64_t old_size, uint64_t new_size) {
  if (old_size == 0 || old_size > new_size) {
    return ConsistencyProofRanges(old_size, new_size).status();
  }
  if (old_size == new_size) return 0;
  // The inclusion path of the old tree's last leaf, from the level of its
  // rightmost perfect subtree, plus that subtree's root unless it is the
  // whole old tree (the verifier has that one: the old root).
  const int shift = __builtin_ctzll(old_size);
  absl::StatusOr<size_t> path = InclusionProofLength(old_size - 1, new_size);
  const size_t seed = old_size == (uint64_t{1} << shift) ? 0 : 1;
  return seed + *path - shift;
}

absl::Status VerifyInclusion(const Hash& leaf, uint64_t index, uint64_t size,
                             absl::Span<const Hash> proof, const Hash& root) {
  absl::StatusOr<size_t> want = InclusionProofLength(index, size);
  if (!want.ok()) return want.status();
  if (proof.size() != *want) {
    return absl::InvalidArgumentError(absl::StrCat("an inclusion proof for leaf ", index,
                                                   " of a tree of size ", size, " has ", *want,
                                                   " hashes, not ", proof.size()));
  }
  // RFC 9162 2.1.3.2.
  uint64_t fn = index, sn = size - 1;
  Hash r = leaf;
  for (const Hash& p : proof) {
    if (sn == 0) return Mismatch("inclusion proof too long");  // unreachable: length checked
    if ((fn & 1) != 0 || fn == sn) {
      r = NodeHash(p, r);
      while ((fn & 1) == 0 && fn != 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      r = NodeHash(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0 || r != root) return Mismatch(absl::StrCat("leaf ", index, " of size ", size));
  return absl::OkStatus();
}

absl::Status VerifyConsistency(uint64_t old_size, uint64_t new_size, const Hash& old_root,
                               const Hash& new_root, absl::Span<const Hash> proof) {
  absl::StatusOr<size_t> want = ConsistencyProofLength(old_size, new_size);
  if (!want.ok()) return want.status();
  if (proof.size() != *want) {
    return absl::InvalidArgumentError(absl::StrCat("a consistency proof from size ", old_size,
                                                   " to size ", new_size, " has ", *want,
                                                   " hashes, not ", proof.size()));
  }
  const std::string what = absl::StrCat("size ", old_size, " to size ", new_size);
  if (old_size == new_size) {
    return old_root == new_root ? absl::OkStatus() : Mismatch(what + " (equal sizes)");
  }
  // RFC 9162 2.1.4.2.
  std::vector<Hash> path;
  if ((old_size & (old_size - 1)) == 0) path.push_back(old_root);
  path.insert(path.end(), proof.begin(), proof.end());
  uint64_t fn = old_size - 1, sn = new_size - 1;
  while ((fn & 1) != 0) {
    fn >>= 1;
    sn >>= 1;
  }
  Hash fr = path[0], sr = path[0];
  for (size_t i = 1; i < path.size(); ++i) {
    const Hash& c = path[i];
    if (sn == 0) return Mismatch(what);  // unreachable: length checked
    if ((fn & 1) != 0 || fn == sn) {
      fr = NodeHash(c, fr);
      sr = NodeHash(c, sr);
      while ((fn & 1) == 0 && fn != 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      sr = NodeHash(sr, c);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0 || fr != old_root || sr != new_root) return Mismatch(what);
  return absl::OkStatus();
}

std::vector<LeafRange> CompactRangeRanges(uint64_t size) {
  std::vector<LeafRange> out;
  uint64_t begin = 0;
  for (int bit = 63; bit >= 0; --bit) {
    const uint64_t width = uint64_t{1} << bit;
    if ((size & width) == 0) continue;
    out.push_back({begin, begin + width});
    begin += width;
  }
  return out;
}

absl::StatusOr<CompactRange> CompactRange::Restore(uint64_t size, std::vector<Hash> nodes) {
  const size_t want = __builtin_popcountll(size);
  if (nodes.size() != want) {
    return absl::InvalidArgumentError(absl::StrCat("a compact range of size ", size, " has ", want,
                                                   " hashes (one per set bit), not ",
                                                   nodes.size()));
  }
  CompactRange range;
  range.size_ = size;
  range.nodes_ = std::move(nodes);
  return range;
}

absl::Status CompactRange::Append(const Hash& leaf) {
  if (size_ == std::numeric_limits<uint64_t>::max()) {
    return absl::OutOfRangeError("the tree holds 2^64 - 1 leaves; no more fit");
  }
  nodes_.push_back(leaf);
  // Each trailing 1 bit of the old size is a subtree as large as the one
  // just completed: merge it in.
  for (uint64_t s = size_; (s & 1) != 0; s >>= 1) {
    const Hash right = nodes_.back();
    nodes_.pop_back();
    nodes_.back() = NodeHash(nodes_.back(), right);
  }
  ++size_;
  return absl::OkStatus();
}

Hash CompactRange::Root() const {
  if (nodes_.empty()) return EmptyRoot();
  Hash r = nodes_.back();
  for (size_t i = nodes_.size() - 1; i-- > 0;) r = NodeHash(nodes_[i], r);
  return r;
}

}  // namespace booking::tlog
