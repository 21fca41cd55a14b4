// The audit trail's transparency log in the history store (issue 22): one
// append-only Merkle tree (RFC 9162, common/tlog) over every history row,
// kept as C2SP tlog-tiles tiles ("BookingStatusHistoryTile"), with each
// row's leaf index ("BookingStatusHistoryLeaf") and the tree's size and root
// ("BookingStatusHistoryTree", one row), schema step 0012.
//
// A row's leaf is LeafHash(Canonical(row)): the content its chain hash
// covers (history-service/row_content.h), so a leaf proves an entry without
// its booking's earlier rows; the per-booking chain stays beside it (it names
// a rewritten row without any checkpoint, and orders a booking's rows).
//
// Order: rows from before the watch feed (schema step 0008: no feed
// position) first, by booking and sequence; then every row in feed position
// order (the feed's sequencer gives positions in commit order). Rows are
// integrated in batches, each one transaction under the tree's own advisory
// lock: read the size, the root and the partial tiles; check the tiles give
// the stored root (a tree altered in the store is never extended: kDataLoss);
// append; write the leaves, the changed tiles, the new size and root. A
// batch costs its rows plus O(log n) hashes, never an old leaf; a batch
// killed before COMMIT left nothing, so folding resumes where it stopped.
//
// Thread safety: free functions over the caller's connection or
// transaction; concurrent callers on other connections serialize on the lock.
#ifndef HISTORY_SERVICE_LOG_TREE_H_
#define HISTORY_SERVICE_LOG_TREE_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "common/pqxx_fwd.h"
#include "common/tlog/merkle.h"

namespace booking {

struct TreeHead {
  uint64_t size = 0;
  tlog::Hash root{};
};

// Integrates up to `limit` rows not yet in the tree (a transaction per
// batch; no transaction may be open on `conn`): how many it appended (fewer
// than `limit`: none are left for now) and the tree after.
struct Integrated {
  int64_t appended = 0;
  TreeHead head;
  bool folded = false;  // every row from before the log is in the tree
};
absl::StatusOr<Integrated> IntegrateRows(pqxx::connection& conn, int limit);

// The tree as the store keeps it now.
absl::StatusOr<TreeHead> ReadTreeHead(pqxx::transaction_base& txn);

// Proofs from the stored tiles (one query for the tiles each needs) for a
// tree of `size` leaves, `size` <= the stored size.
absl::StatusOr<std::vector<tlog::Hash>> StoredInclusionProof(pqxx::transaction_base& txn,
                                                             uint64_t index, uint64_t size);
// The inclusion proofs of several leaves in the tree of `size`, their tiles
// read in one query (after `bound`, a DeadlineBoundStatement, in its message).
absl::StatusOr<std::vector<std::vector<tlog::Hash>>> StoredInclusionProofs(
    pqxx::transaction_base& txn, const std::vector<uint64_t>& indexes, uint64_t size,
    const std::string& bound = "");
absl::StatusOr<std::vector<tlog::Hash>> StoredConsistencyProof(pqxx::transaction_base& txn,
                                                               uint64_t old_size,
                                                               uint64_t new_size);
// The root of the first `size` leaves, from the stored tiles.
absl::StatusOr<tlog::Hash> StoredRoot(pqxx::transaction_base& txn, uint64_t size);
// The compact range of the tree's first `size` leaves (tlog::CompactRange's
// nodes), from the stored tiles.
absl::StatusOr<std::vector<tlog::Hash>> StoredCompactRange(pqxx::transaction_base& txn,
                                                           uint64_t size);

// The leaves `where` (a condition on "BookingStatusHistoryLeaf"'s columns)
// selects, with the rows they name, ordered by `order`: leaf_index,
// leaf_booking, leaf_sequence, gone (the row is no longer in the store: its
// columns NULL), then the row's StoredRowColumns() (history-service/verify.h).
std::string LeafRowsQuery(const std::string& where, const char* order);

}  // namespace booking

#endif  // HISTORY_SERVICE_LOG_TREE_H_
