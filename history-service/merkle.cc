#include "history-service/merkle.h"

#include <sodium.h>

#include "absl/strings/str_cat.h"

namespace booking {
namespace {

std::string Sha256(const std::string& data) {
  std::string out(crypto_hash_sha256_BYTES, '\0');
  crypto_hash_sha256(reinterpret_cast<unsigned char*>(out.data()),
                     reinterpret_cast<const unsigned char*>(data.data()), data.size());
  return out;
}

std::string Node(const std::string& left, const std::string& right) {
  return Sha256(absl::StrCat(std::string(1, '\x01'), left, right));
}

// The largest power of two below n (n > 1).
size_t Split(size_t n) {
  size_t k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

std::string Root(const std::vector<std::string>& leaves, size_t begin, size_t end) {
  if (end - begin == 1) return leaves[begin];
  const size_t k = Split(end - begin);
  return Node(Root(leaves, begin, begin + k), Root(leaves, begin + k, end));
}

void Path(const std::vector<std::string>& leaves, size_t index, size_t begin, size_t end,
          std::vector<std::string>& out) {
  if (end - begin <= 1) return;
  const size_t k = Split(end - begin);
  if (index < begin + k) {
    Path(leaves, index, begin, begin + k, out);
    out.push_back(Root(leaves, begin + k, end));
  } else {
    Path(leaves, index, begin + k, end, out);
    out.push_back(Root(leaves, begin, begin + k));
  }
}

}  // namespace

std::string LeafHash(const Head& head) {
  const std::string seq = absl::StrCat(head.sequence);
  return Sha256(absl::StrCat(std::string(1, '\0'), "v", head.booking_id.size(), ":",
                             head.booking_id, "v", seq.size(), ":", seq, head.row_hash));
}

std::string MerkleRoot(const std::vector<std::string>& leaves) {
  if (leaves.empty()) return Sha256("");
  return Root(leaves, 0, leaves.size());
}

std::vector<std::string> AuditPath(const std::vector<std::string>& leaves, size_t index) {
  std::vector<std::string> out;
  if (index < leaves.size()) Path(leaves, index, 0, leaves.size(), out);
  return out;
}

bool VerifyAuditPath(const std::string& leaf, uint64_t index, uint64_t size,
                     const std::vector<std::string>& path, const std::string& root) {
  // RFC 9162, 2.1.3.2.
  if (index >= size) return false;
  uint64_t fn = index, sn = size - 1;
  std::string r = leaf;
  for (const std::string& p : path) {
    if (sn == 0) return false;
    if ((fn & 1) != 0 || fn == sn) {
      r = Node(p, r);
      while ((fn & 1) == 0 && fn != 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      r = Node(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return sn == 0 && r == root;
}

}  // namespace booking
