#include "history-service/merkle.h"

#include <optional>

#include "absl/strings/str_cat.h"
#include "common/tlog/merkle.h"

namespace booking {
namespace {

// Each string a 32-byte hash; nullopt if one is not.
std::optional<std::vector<tlog::Hash>> ToHashes(const std::vector<std::string>& bytes) {
  std::vector<tlog::Hash> out;
  out.reserve(bytes.size());
  for (const std::string& b : bytes) {
    absl::StatusOr<tlog::Hash> h = tlog::HashFromBytes(b);
    if (!h.ok()) return std::nullopt;
    out.push_back(*h);
  }
  return out;
}

}  // namespace

std::string LeafHash(const Head& head) {
  const std::string seq = absl::StrCat(head.sequence);
  return tlog::HashToBytes(
      tlog::LeafHash(absl::StrCat("v", head.booking_id.size(), ":", head.booking_id, "v",
                                  seq.size(), ":", seq, head.row_hash)));
}

std::string MerkleRoot(const std::vector<std::string>& leaves) {
  const std::optional<std::vector<tlog::Hash>> hashes = ToHashes(leaves);
  return hashes ? tlog::HashToBytes(tlog::RootOf(*hashes)) : std::string();
}

std::vector<std::string> AuditPath(const std::vector<std::string>& leaves, size_t index) {
  const std::optional<std::vector<tlog::Hash>> hashes = ToHashes(leaves);
  if (!hashes) return {};
  absl::StatusOr<std::vector<tlog::Hash>> proof = tlog::InclusionProof(*hashes, index);
  std::vector<std::string> out;
  if (!proof.ok()) return out;
  for (const tlog::Hash& h : *proof) out.push_back(tlog::HashToBytes(h));
  return out;
}

bool VerifyAuditPath(const std::string& leaf, uint64_t index, uint64_t size,
                     const std::vector<std::string>& path, const std::string& root) {
  const std::optional<std::vector<tlog::Hash>> proof = ToHashes(path);
  const absl::StatusOr<tlog::Hash> leaf_hash = tlog::HashFromBytes(leaf);
  const absl::StatusOr<tlog::Hash> root_hash = tlog::HashFromBytes(root);
  return proof && leaf_hash.ok() && root_hash.ok() &&
         tlog::VerifyInclusion(*leaf_hash, index, size, *proof, *root_hash).ok();
}

}  // namespace booking
