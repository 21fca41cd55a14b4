#include "history-verify/log_audit.h"

#include <algorithm>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/pg.h"
#include "common/tlog/merkle.h"
#include "history-service/log_tree.h"
#include "history-service/row_content.h"
#include "pqxx/pqxx"

namespace booking {
namespace {

constexpr uint64_t kTileWidth = 256;
constexpr uint64_t kChunk = 32 * kTileWidth;  // leaves read per query

// The level-0 hashes the tiles hold for leaves [from, to), by leaf index.
std::map<uint64_t, tlog::Hash> StoredLeafHashes(pqxx::transaction_base& txn, uint64_t from,
                                                uint64_t to) {
  std::map<uint64_t, tlog::Hash> out;
  for (const pqxx::row& row : txn.exec(absl::StrCat(
           R"(SELECT "index", hashes FROM "BookingStatusHistoryTile"
                               WHERE level = 0 AND "index" >= )",
           from / kTileWidth, R"( AND "index" < )", (to + kTileWidth - 1) / kTileWidth))) {
    const std::string bytes = pqxx::binarystring(row["hashes"]).str();
    const uint64_t first = row["index"].as<uint64_t>() * kTileWidth;
    for (uint64_t i = 0; i * 32 + 32 <= bytes.size(); ++i) {
      absl::StatusOr<tlog::Hash> h = tlog::HashFromBytes(bytes.substr(i * 32, 32));
      if (h.ok() && first + i >= from && first + i < to) out[first + i] = *h;
    }
  }
  return out;
}

class Audit {
 public:
  Audit(LogAudit& out, size_t max_findings) : out_(out), max_findings_(max_findings) {}

  void Report(Finding f) {
    if (out_.findings.size() < max_findings_) out_.findings.push_back(std::move(f));
  }

  // Leaves [from, to): each row's leaf hash against the tile's; the tree
  // goes on with the tile's hash where the row cannot give one.
  void Chunk(pqxx::transaction_base& txn, uint64_t from, uint64_t to) {
    const std::map<uint64_t, tlog::Hash> stored = StoredLeafHashes(txn, from, to);
    const pqxx::result rows = txn.exec(LeafRowsQuery(
        absl::StrCat(R"("leafIndex" >= )", from, R"( AND "leafIndex" < )", to), "l.leaf_index"));
    const ContentLayout at(rows);
    uint64_t next = from;
    for (const pqxx::row& row : rows) {
      const uint64_t index = row["leaf_index"].as<uint64_t>();
      for (; next < index; ++next) Missing(next, stored);
      ++next;
      ++out_.entries;
      const std::string booking = row["leaf_booking"].as<std::string>();
      const int64_t sequence = row["leaf_sequence"].as<int64_t>();
      auto tile = stored.find(index);
      if (row["gone"].as<bool>()) {
        Report({booking, sequence,
                absl::StrCat("the row the log holds at leaf ", index,
                             " is gone from the store (deleted after it was logged)")});
        if (tile != stored.end()) (void)range_.Append(tile->second);
        continue;
      }
      // The tree goes on with the tile's hash where there is one: a row
      // reported here is not reported again by the root.
      const tlog::Hash leaf = tlog::LeafHash(Canonical(ReadContent(row, at)));
      (void)range_.Append(tile != stored.end() ? tile->second : leaf);
      if (tile == stored.end()) {
        Report({booking, sequence,
                absl::StrCat("the log's tiles lack leaf ", index, ": the tiles were altered")});
      } else if (tile->second != leaf) {
        Report({booking, sequence,
                absl::StrCat("the row is not the entry the log holds at leaf ", index,
                             ": rewritten after it was logged")});
      }
    }
    for (; next < to; ++next) Missing(next, stored);
  }

  tlog::Hash Root() const { return range_.Root(); }

 private:
  void Missing(uint64_t index, const std::map<uint64_t, tlog::Hash>& stored) {
    Report({"", 0,
            absl::StrCat("the log's leaf table lacks leaf ", index,
                         ": the row it named cannot be checked")});
    if (auto tile = stored.find(index); tile != stored.end()) (void)range_.Append(tile->second);
  }

  LogAudit& out_;
  size_t max_findings_;
  tlog::CompactRange range_;  // the entries so far (Append fails only past 2^64 leaves)
};

absl::StatusOr<LogAudit> AuditBooking(pqxx::transaction_base& txn, const tlog::Checkpoint& trusted,
                                      const std::string& booking, size_t max_findings);

}  // namespace

absl::StatusOr<LogAudit> AuditLog(pqxx::transaction_base& txn, const tlog::Checkpoint& trusted,
                                  const std::optional<std::string>& booking, size_t max_findings) {
  try {
    if (booking) return AuditBooking(txn, trusted, *booking, max_findings);
    LogAudit out;
    Audit audit(out, max_findings);
    for (uint64_t from = 0; from < trusted.size; from += kChunk) {
      audit.Chunk(txn, from, std::min(from + kChunk, trusted.size));
    }
    if (const tlog::Hash root = audit.Root(); root != trusted.root) {
      audit.Report({"", 0,
                    absl::StrCat("the store's first ", trusted.size, " log entries give root ",
                                 tlog::HashToHex(root), ", not the signed root ",
                                 tlog::HashToHex(trusted.root),
                                 ": entries and tiles were rewritten together")});
    }
    return out;
  } catch (const std::exception& e) {
    return StatusFromException(e);
  }
}

namespace {

absl::StatusOr<LogAudit> AuditBooking(pqxx::transaction_base& txn, const tlog::Checkpoint& trusted,
                                      const std::string& booking, size_t max_findings) {
  LogAudit out;
  Audit audit(out, max_findings);
  const pqxx::result rows = txn.exec(LeafRowsQuery(
      absl::StrCat(R"("bookingId" = )", txn.quote(booking), R"( AND "leafIndex" < )", trusted.size),
      "l.leaf_sequence"));
  const ContentLayout at(rows);
  std::vector<uint64_t> indexes;
  for (const pqxx::row& row : rows) indexes.push_back(row["leaf_index"].as<uint64_t>());
  absl::StatusOr<std::vector<std::vector<tlog::Hash>>> proofs =
      StoredInclusionProofs(txn, indexes, trusted.size);
  if (!proofs.ok()) {
    audit.Report(
        {booking, 0, absl::StrCat("the log's tiles give no proof: ", proofs.status().message())});
    return out;
  }
  for (size_t i = 0; i < indexes.size(); ++i) {
    ++out.entries;
    const pqxx::row row = rows[static_cast<pqxx::result::size_type>(i)];
    const int64_t sequence = row["leaf_sequence"].as<int64_t>();
    if (row["gone"].as<bool>()) {
      audit.Report({booking, sequence,
                    absl::StrCat("the row the log holds at leaf ", indexes[i],
                                 " is gone from the store (deleted after it was logged)")});
    } else if (!tlog::VerifyInclusion(tlog::LeafHash(Canonical(ReadContent(row, at))), indexes[i],
                                      trusted.size, (*proofs)[i], trusted.root)
                    .ok()) {
      audit.Report({booking, sequence,
                    absl::StrCat("the row is not the entry the signed log checkpoint covers at "
                                 "leaf ",
                                 indexes[i], ": rewritten after it was logged")});
    }
  }
  return out;
}

}  // namespace
}  // namespace booking
