#include "history-service/log_tree.h"

#include <algorithm>
#include <map>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/pg.h"
#include "common/tlog/tiles.h"
#include "history-service/feed_queue.h"
#include "history-service/recorded_at.h"
#include "history-service/row_content.h"
#include "history-service/verify.h"
#include "pqxx/pqxx"

namespace booking {
namespace {

// The tree's lock: class "HF" (the feed's), key 2. Only tree writers take it.
constexpr char kTreeLock[] = "SELECT pg_advisory_xact_lock(18502, 2)";

struct TreeRow {
  TreeHead head;
  int64_t feed_position = 0;                  // the last feed position in the tree
  bool legacy_done = false;                   // rows from before the feed all folded in
  std::optional<std::string> legacy_booking;  // the fold's cursor
  int64_t legacy_sequence = 0;
};

struct Pending {
  std::string history_id;
  std::string recorded_at;  // the row's "recordedAt", ISO text (RecordedAtText)
  tlog::Hash leaf{};
  int64_t position = 0;
  std::string booking_id;
  int64_t sequence = 0;
};

absl::StatusOr<tlog::Hash> HashField(const pqxx::field& f, const char* what) {
  absl::StatusOr<tlog::Hash> h = tlog::HashFromBytes(pqxx::binarystring(f).str());
  if (!h.ok()) return absl::DataLossError(absl::StrCat("the tree's ", what, " is not 32 bytes"));
  return h;
}

absl::StatusOr<TreeRow> ReadTreeRow(pqxx::transaction_base& txn, const std::string& first) {
  const pqxx::result r =
      txn.exec(absl::StrCat(first, R"(SELECT size, root, "feedPosition" AS feed_position,
      "legacyDone" AS legacy_done, "legacyBookingId" AS legacy_booking,
      "legacySequence" AS legacy_sequence FROM "BookingStatusHistoryTree")"));
  if (r.size() != 1) return absl::DataLossError("\"BookingStatusHistoryTree\" must hold one row");
  TreeRow t;
  t.head.size = r[0]["size"].as<uint64_t>();
  absl::StatusOr<tlog::Hash> root = HashField(r[0]["root"], "root");
  if (!root.ok()) return root.status();
  t.head.root = *root;
  t.feed_position = r[0]["feed_position"].as<int64_t>();
  t.legacy_done = r[0]["legacy_done"].as<bool>();
  if (!r[0]["legacy_booking"].is_null()) {
    t.legacy_booking = r[0]["legacy_booking"].as<std::string>();
    t.legacy_sequence = r[0]["legacy_sequence"].as<int64_t>();
  }
  return t;
}

absl::StatusOr<std::map<tlog::TileKey, tlog::TileBytes>> ReadTiles(
    pqxx::transaction_base& txn, const std::vector<tlog::TileKey>& keys,
    const std::string& bound = "") {
  std::map<tlog::TileKey, tlog::TileBytes> out;
  if (keys.empty()) return out;
  std::string values;
  for (const tlog::TileKey& k : keys) {
    absl::StrAppend(&values, values.empty() ? "" : ",", "(", k.level, ",", k.index, ")");
  }
  for (const pqxx::row& row :
       txn.exec(absl::StrCat(bound, bound.empty() ? "" : "; ",
                             R"(SELECT level, "index", hashes FROM "BookingStatusHistoryTile"
              WHERE (level, "index") IN (VALUES )",
                             values, ")"))) {
    out[{row["level"].as<int>(), row["index"].as<uint64_t>()}] =
        pqxx::binarystring(row["hashes"]).str();
  }
  return out;
}

tlog::TileSource SourceOf(const std::map<tlog::TileKey, tlog::TileBytes>& tiles) {
  return [&tiles](const tlog::TileKey& key) -> absl::StatusOr<tlog::TileBytes> {
    auto it = tiles.find(key);
    if (it == tiles.end()) {
      return absl::DataLossError(
          absl::StrCat("the store lacks tile ", key.level, "/", key.index, " of the tree"));
    }
    return it->second;
  };
}

// The next `limit` rows after the fold's cursor in (booking, sequence)
// order, each marked `legacy` when it is from before the feed (no position,
// none queued). The rows are taken by the index first and marked after: a
// query that filters first lets the planner scan and sort the whole table
// for every batch (measured: 0.56 s a batch at 1M rows, the fold quadratic).
// The queue is read once per batch (a hashed subplan): it holds only what
// waits for a position.
std::string LegacyQuery(const TreeRow& t, pqxx::transaction_base& txn, int limit) {
  const std::string after =
      t.legacy_booking ? absl::StrCat(R"(WHERE ("bookingId", sequence) > ()",
                                      txn.quote(*t.legacy_booking), ", ", t.legacy_sequence, ")")
                       : "";
  return absl::StrCat("WITH c AS MATERIALIZED (SELECT id, ",
                      RecordedAtText(R"("BookingStatusHistory")"), ", ", kContentColumns,
                      R"( FROM "BookingStatusHistory" )", after,
                      R"( ORDER BY "bookingId", sequence LIMIT )", limit, R"()
      SELECT c.id::text AS history_id, 0::bigint AS position, c.*,
             NOT EXISTS (SELECT 1 FROM "BookingStatusHistoryFeed" f WHERE f."historyId" = c.id)
               AND c.id NOT IN ()",
                      kQueuedHistoryIds, R"()
               AS legacy
      FROM c ORDER BY c.booking_id, c.sequence)");
}

// Rows of the feed after the tree's last position, in position order, each
// row found by a lateral probe (LIMIT 1: never flattened into a join that
// could scan every partition; its partition key is a parameter).
std::string FeedQuery(const TreeRow& t, int limit) {
  return absl::StrCat(R"(SELECT f.position AS position, f."historyId"::text AS feed_history_id, h.*
      FROM "BookingStatusHistoryFeed" f
      LEFT JOIN LATERAL (SELECT r.id::text AS history_id, )",
                      RecordedAtText("r"), ", ", kContentColumns, R"(
                         FROM "BookingStatusHistory" r WHERE r.id = f."historyId" AND )",
                      RecordedAtMatches("r", "f"), R"( LIMIT 1) AS h ON true
      WHERE f.position > )",
                      t.feed_position, " ORDER BY f.position LIMIT ", limit);
}

struct PendingRows {
  std::vector<Pending> rows;  // to append
  size_t scanned = 0;         // rows the query gave, those passed over too
  std::string last_booking;   // the last scanned: the fold's cursor
  int64_t last_sequence = 0;
};

// A feed row whose history row is gone is refused, not passed over: the tree would miss an entry
// the feed promised. `legacy`: the fold's query, whose rows with a position are passed over.
absl::StatusOr<PendingRows> ReadPending(pqxx::transaction_base& txn, const std::string& query,
                                        bool legacy) {
  const pqxx::result r = txn.exec(query);
  const ContentLayout at(r);
  PendingRows out;
  out.rows.reserve(r.size());
  for (const pqxx::row& row : r) {
    if (row["history_id"].is_null()) {
      return absl::DataLossError(absl::StrCat(
          "feed position ", row["position"].as<int64_t>(), " names history row ",
          row["feed_history_id"].as<std::string>(),
          ", which is not in \"BookingStatusHistory\": a row was deleted from the store; "
          "refusing to extend the tree past it"));
    }
    const RowContent c = ReadContent(row, at);
    ++out.scanned;
    out.last_booking = c.booking_id;
    out.last_sequence = c.sequence;
    if (legacy && !row["legacy"].as<bool>()) continue;
    out.rows.push_back({row["history_id"].as<std::string>(), row["recorded_at"].as<std::string>(),
                        tlog::LeafHash(Canonical(c)), row["position"].as<int64_t>(), c.booking_id,
                        c.sequence});
  }
  return out;
}

std::string ByteaLiteral(const std::string& bytes) { return absl::StrCat("'\\x", Hex(bytes), "'"); }

// The leaves, the changed tiles and the new head, in one message.
void Write(pqxx::transaction_base& txn, const TreeRow& before, const TreeRow& after,
           const std::vector<Pending>& rows, const tlog::TileAppender& appender) {
  std::string leaves, tiles;
  uint64_t index = before.head.size;
  for (const Pending& p : rows) {
    absl::StrAppend(&leaves, leaves.empty() ? "" : ",", "(", index++, ",'", p.history_id,
                    "'::uuid,", txn.quote(p.booking_id), ",", p.sequence, ",",
                    txn.quote(p.recorded_at), "::timestamp)");
  }
  for (const auto& [key, bytes] : appender.changed()) {
    absl::StrAppend(&tiles, tiles.empty() ? "" : ",", "(", key.level, ",", key.index, ",",
                    ByteaLiteral(bytes), "::bytea)");
  }
  std::string sql;
  if (!rows.empty()) {
    sql =
        absl::StrCat(R"(INSERT INTO "BookingStatusHistoryLeaf"
                            ("leafIndex", "historyId", "bookingId", sequence, "recordedAt")
                          VALUES )",
                     leaves, R"(;
      INSERT INTO "BookingStatusHistoryTile" (level, "index", hashes) VALUES )",
                     tiles, R"( ON CONFLICT (level, "index") DO UPDATE SET hashes = EXCLUDED.hashes;
      )");
  }
  txn.exec(absl::StrCat(sql, R"(UPDATE "BookingStatusHistoryTree" SET size = )", after.head.size,
                        ", root = ", ByteaLiteral(tlog::HashToBytes(after.head.root)),
                        R"(, "feedPosition" = )", after.feed_position, R"(, "legacyDone" = )",
                        after.legacy_done ? "true" : "false", R"(, "legacyBookingId" = )",
                        after.legacy_booking ? txn.quote(*after.legacy_booking) : "NULL",
                        R"(, "legacySequence" = )",
                        after.legacy_booking ? absl::StrCat(after.legacy_sequence) : "NULL"));
}

struct Batch {
  int64_t appended = 0;
  bool more = false;  // more rows may wait
  TreeHead head;
  bool folded = false;
};

// One batch in `txn`.
absl::StatusOr<Batch> IntegrateBatch(pqxx::transaction_base& txn, int limit) {
  absl::StatusOr<TreeRow> before = ReadTreeRow(txn, absl::StrCat(kTreeLock, "; "));
  if (!before.ok()) return before.status();
  TreeRow after = *before;
  const bool folding = !before->legacy_done;
  absl::StatusOr<PendingRows> pending = ReadPending(
      txn, folding ? LegacyQuery(*before, txn, limit) : FeedQuery(*before, limit), folding);
  if (!pending.ok()) return pending.status();
  const std::vector<Pending>& rows = pending->rows;
  const bool full = static_cast<int>(pending->scanned) == limit;
  if (folding && !full) after.legacy_done = true;  // the feed's turn next
  if (pending->scanned == 0 && after.legacy_done == before->legacy_done)
    return Batch{0, false, before->head, before->legacy_done};
  if (folding && pending->scanned > 0) {
    after.legacy_booking = pending->last_booking;
    after.legacy_sequence = pending->last_sequence;
  }
  std::vector<tlog::TileKey> partial_keys;
  for (const auto& [key, width] : tlog::PartialTiles(before->head.size))
    partial_keys.push_back(key);
  absl::StatusOr<std::map<tlog::TileKey, tlog::TileBytes>> partial = ReadTiles(txn, partial_keys);
  if (!partial.ok()) return partial.status();
  absl::StatusOr<tlog::TileAppender> appender =
      tlog::TileAppender::Restore(before->head.size, *partial);
  if (!appender.ok()) return appender.status();
  absl::StatusOr<tlog::Hash> root = appender->Root();
  if (!root.ok()) return root.status();
  if (*root != before->head.root) {
    return absl::DataLossError(absl::StrCat(
        "the tree's stored tiles give root ", tlog::HashToHex(*root), ", not the stored root ",
        tlog::HashToHex(before->head.root), " of size ", before->head.size,
        ": the tree was altered in the store; refusing to extend it"));
  }
  for (const Pending& p : rows) {
    appender->Append(p.leaf);
    if (!folding) after.feed_position = p.position;
  }
  absl::StatusOr<tlog::Hash> new_root = appender->Root();
  if (!new_root.ok()) return new_root.status();
  after.head = {appender->size(), *new_root};
  Write(txn, *before, after, rows, *appender);
  return Batch{static_cast<int64_t>(rows.size()), full || after.legacy_done != before->legacy_done,
               after.head, after.legacy_done};
}

}  // namespace

absl::StatusOr<Integrated> IntegrateRows(pqxx::connection& conn, int limit) {
  try {
    Integrated total;
    bool more = true;
    while (more) {
      pqxx::work txn(conn, "log tree");
      absl::StatusOr<Batch> batch = IntegrateBatch(txn, limit);
      if (!batch.ok()) return batch.status();
      txn.commit();
      total.appended += batch->appended;
      total.head = batch->head;
      total.folded = batch->folded;
      more = batch->more && total.appended < limit;
    }
    return total;
  } catch (const std::exception& e) {
    return StatusFromException(e);
  }
}

absl::StatusOr<TreeHead> ReadTreeHead(pqxx::transaction_base& txn) {
  try {
    absl::StatusOr<TreeRow> t = ReadTreeRow(txn, "");
    if (!t.ok()) return t.status();
    return t->head;
  } catch (const std::exception& e) {
    return StatusFromException(e);
  }
}

namespace {

template <typename Compute>
auto FromStoredTiles(pqxx::transaction_base& txn, const std::vector<tlog::TileKey>& keys,
                     Compute compute, const std::string& bound = "")
    -> decltype(compute(tlog::TileSource())) {
  try {
    absl::StatusOr<std::map<tlog::TileKey, tlog::TileBytes>> tiles = ReadTiles(txn, keys, bound);
    if (!tiles.ok()) return tiles.status();
    return compute(SourceOf(*tiles));
  } catch (const std::exception& e) {
    return StatusFromException(e);
  }
}

}  // namespace

absl::StatusOr<std::vector<tlog::Hash>> StoredInclusionProof(pqxx::transaction_base& txn,
                                                             uint64_t index, uint64_t size) {
  return FromStoredTiles(
      txn, tlog::InclusionProofTiles(index, size),
      [&](const tlog::TileSource& s) { return tlog::TileInclusionProof(index, size, s); });
}

absl::StatusOr<std::vector<std::vector<tlog::Hash>>> StoredInclusionProofs(
    pqxx::transaction_base& txn, const std::vector<uint64_t>& indexes, uint64_t size,
    const std::string& bound) {
  std::vector<tlog::TileKey> keys;
  for (uint64_t index : indexes) {
    for (const tlog::TileKey& k : tlog::InclusionProofTiles(index, size)) keys.push_back(k);
  }
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  return FromStoredTiles(
      txn, keys,
      [&](const tlog::TileSource& s) { return tlog::TileInclusionProofs(indexes, size, s); },
      bound);
}

absl::StatusOr<std::vector<tlog::Hash>> StoredConsistencyProof(pqxx::transaction_base& txn,
                                                               uint64_t old_size,
                                                               uint64_t new_size) {
  return FromStoredTiles(
      txn, tlog::ConsistencyProofTiles(old_size, new_size),
      [&](const tlog::TileSource& s) { return tlog::TileConsistencyProof(old_size, new_size, s); });
}

absl::StatusOr<std::vector<tlog::Hash>> StoredCompactRange(pqxx::transaction_base& txn,
                                                           uint64_t size) {
  return FromStoredTiles(txn, tlog::CompactRangeTiles(size), [&](const tlog::TileSource& s) {
    return tlog::TileCompactRange(size, s);
  });
}

absl::StatusOr<tlog::Hash> StoredRoot(pqxx::transaction_base& txn, uint64_t size) {
  return FromStoredTiles(txn, tlog::RootTiles(size),
                         [&](const tlog::TileSource& s) { return tlog::TreeRoot(size, s); });
}

std::string LeafRowsQuery(const std::string& where, const char* order) {
  // The leaf's own columns renamed: StoredRowColumns() names the row's. Each
  // row by a lateral probe, as FeedQuery's.
  return absl::StrCat(
      "SELECT l.leaf_index, l.leaf_booking, l.leaf_sequence, h.row_id IS NULL AS gone, h.* ",
      R"(FROM (SELECT "leafIndex" AS leaf_index, "historyId" AS leaf_row,
             "bookingId" AS leaf_booking, sequence AS leaf_sequence, "recordedAt"
           FROM "BookingStatusHistoryLeaf" WHERE )",
      where, R"() l
         LEFT JOIN LATERAL (SELECT r.id AS row_id, )",
      StoredRowColumns(), R"( FROM "BookingStatusHistory" r
                            WHERE r.id = l.leaf_row AND )",
      RecordedAtMatches("r", "l"), " LIMIT 1) AS h ON true ORDER BY ", order);
}

}  // namespace booking
