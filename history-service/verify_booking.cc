#include "history-service/verify_booking.h"

#include <optional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/json_string.h"
#include "common/tlog/checkpoint.h"
#include "common/tlog/merkle.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"
#include "history-service/checkpoint.h"
#include "history-service/entry_check.h"
#include "history-service/log_checkpoint.h"
#include "history-service/log_tree.h"
#include "history-service/recorded_at.h"
#include "history-service/verify.h"
#include "pqxx/pqxx"

namespace booking {
namespace {

void Fail(history::v1::VerifyHistoryResponse& r, const Finding& f) {
  if (!r.verified()) return;  // the first finding stands
  r.set_verified(false);
  r.set_first_bad_sequence(f.sequence);
  r.set_problem(f.problem);
}

// The log's checkpoint and an inclusion proof for each row it covers, each
// checked here too: a row rewritten after it was logged is named.
void AddLogProofs(pqxx::transaction_base& txn, const std::string& bound, const LogCheckpoint& log,
                  const std::vector<StoredRow>& rows,
                  const std::vector<std::optional<uint64_t>>& leaves,
                  history::v1::VerifyHistoryResponse& response) {
  history::v1::LogCheckpoint* c = response.mutable_log_checkpoint();
  c->set_note(log.note);
  c->set_size(static_cast<int64_t>(log.size));
  c->set_root(tlog::HashToBytes(log.root));
  std::vector<uint64_t> covered;
  std::vector<size_t> at;
  for (size_t i = 0; i < rows.size(); ++i) {
    if (leaves[i] && *leaves[i] < log.size) {
      covered.push_back(*leaves[i]);
      at.push_back(i);
    }
  }
  absl::StatusOr<std::vector<std::vector<tlog::Hash>>> proofs =
      StoredInclusionProofs(txn, covered, log.size, bound);
  if (!proofs.ok()) {
    Fail(response,
         Finding{rows.empty() ? "" : rows[0].content.booking_id, 0,
                 absl::StrCat("the log's tiles give no proof: ", proofs.status().message())});
    return;
  }
  for (size_t k = 0; k < at.size(); ++k) {
    history::v1::InclusionProof* p =
        response.mutable_rows(static_cast<int>(at[k]))->mutable_inclusion();
    p->set_leaf_index(static_cast<int64_t>(covered[k]));
    p->set_tree_size(static_cast<int64_t>(log.size));
    for (const tlog::Hash& h : (*proofs)[k]) p->add_hashes(tlog::HashToBytes(h));
    const RowContent& row = rows[at[k]].content;
    if (!tlog::VerifyInclusion(tlog::LeafHash(Canonical(row)), covered[k], log.size, (*proofs)[k],
                               log.root)
             .ok()) {
      Fail(response, Finding{row.booking_id, row.sequence,
                             "the row is not the entry the log's signed checkpoint covers at its "
                             "leaf: rewritten after it was logged"});
    }
  }
}

// "" when the log checkpoint is signed by `public_key` under its origin and
// every row's inclusion proof leads from the row's canonical bytes to its
// root; else what does not hold.
std::string CheckLogProofs(const history::v1::VerifyHistoryResponse& r,
                           const std::string& public_key) {
  const std::string& note = r.log_checkpoint().note();
  const std::string origin = note.substr(0, note.find('\n'));
  absl::StatusOr<tlog::NoteVerifier> verifier =
      tlog::NoteVerifier::FromPublicKey(origin, public_key);
  if (!verifier.ok()) {
    return absl::StrCat("the log checkpoint's origin names no key: ", verifier.status().message());
  }
  absl::StatusOr<tlog::Checkpoint> c = tlog::OpenCheckpoint(note, {*verifier});
  if (!c.ok()) return absl::StrCat("the log checkpoint does not verify: ", c.status().message());
  for (const history::v1::VerifiedRow& row : r.rows()) {
    if (!row.has_inclusion()) continue;
    const history::v1::InclusionProof& p = row.inclusion();
    std::vector<tlog::Hash> hashes;
    for (const std::string& h : p.hashes()) {
      absl::StatusOr<tlog::Hash> hash = tlog::HashFromBytes(h);
      if (!hash.ok()) return "an inclusion proof holds a hash that is not 32 bytes";
      hashes.push_back(*hash);
    }
    if (p.tree_size() < 0 || static_cast<uint64_t>(p.tree_size()) != c->size ||
        p.leaf_index() < 0 ||
        !tlog::VerifyInclusion(tlog::LeafHash(row.canonical()),
                               static_cast<uint64_t>(p.leaf_index()), c->size, hashes, c->root)
             .ok()) {
      return absl::StrCat("booking ", row.entry().booking_id(), " sequence ",
                          row.entry().sequence(),
                          ": its inclusion proof does not lead to the log checkpoint's root");
    }
  }
  return "";
}

// A row of the booking the log took in and the store no longer holds (a
// deleted last row too, which the chain cannot show), named by its leaf.
// OFFSET 0 keeps the NOT EXISTS a probe per leaf (never an anti-join that
// could scan every partition): the row's partition key is a parameter.
std::string GoneLeafQuery(pqxx::transaction_base& txn, const std::string& booking_id) {
  return absl::StrCat(R"(SELECT l.sequence AS sequence, l."leafIndex" AS leaf_index
         FROM "BookingStatusHistoryLeaf" l
         WHERE l."bookingId" = )",
                      txn.quote(booking_id),
                      R"( AND NOT EXISTS (SELECT 1 FROM "BookingStatusHistory" h
                                              WHERE h.id = l."historyId" AND )",
                      RecordedAtMatches("h", "l"), R"(
                                              OFFSET 0)
         ORDER BY l.sequence LIMIT 1)");
}

std::optional<Finding> GoneLeaf(const pqxx::result& gone, const std::string& booking_id) {
  if (gone.empty()) return std::nullopt;
  return Finding{booking_id, gone[0]["sequence"].as<int64_t>(),
                 absl::StrCat("the row the log holds at leaf ", gone[0]["leaf_index"].as<int64_t>(),
                              " is gone from the store (deleted)")};
}

// The booking's rows with their leaves (NULL before the log took them in).
std::string RowsQuery(pqxx::transaction_base& txn, const std::string& booking_id) {
  return absl::StrCat("SELECT ", StoredRowColumns(), R"(,
                          (SELECT l."leafIndex" FROM "BookingStatusHistoryLeaf" l
                           WHERE l."historyId" = h.id) AS leaf_index
                        FROM "BookingStatusHistory" h WHERE "bookingId" = )",
                      txn.quote(booking_id), " AND ",
                      BookingRowsRecorded("h", txn.quote(booking_id)), " ORDER BY sequence");
}

// What VerifyBooking reads before the proofs, in one message (one round
// trip): the newest checkpoint with the booking's heads, then the newest
// log checkpoint, then the rows (each read after the checkpoints: every
// head and leaf a checkpoint covers is among them), then the leaf of a row
// gone.
struct BookingReads {
  CheckpointWithHeads checkpoint;
  absl::StatusOr<std::optional<LogCheckpoint>> log;
  pqxx::result rows;
  std::optional<Finding> gone;
};

BookingReads ReadBooking(pqxx::transaction_base& txn, const std::string& booking_id,
                         const std::string& bound) {
  pqxx::pipeline reads(txn);
  reads.retain(5);
  // SET LOCAL holds for the message's implicit transaction: every query.
  if (!bound.empty()) reads.insert(bound);
  const pqxx::pipeline::query_id checkpoint =
      reads.insert(NewestCheckpointWithHeadsQuery(txn, booking_id));
  const pqxx::pipeline::query_id log = reads.insert(kNewestLogCheckpointQuery);
  const pqxx::pipeline::query_id rows = reads.insert(RowsQuery(txn, booking_id));
  const pqxx::pipeline::query_id gone = reads.insert(GoneLeafQuery(txn, booking_id));
  reads.complete();
  BookingReads out{ReadCheckpointWithHeads(reads.retrieve(checkpoint), booking_id),
                   ReadNewestLogCheckpoint(reads.retrieve(log)), reads.retrieve(rows),
                   std::nullopt};
  out.gone = GoneLeaf(reads.retrieve(gone), booking_id);
  return out;
}

}  // namespace

void ToVerifiedRow(const StoredRow& row, history::v1::VerifiedRow* out) {
  const RowContent& c = row.content;
  history::v1::HistoryEntry* e = out->mutable_entry();
  e->set_event_id(c.event_id);
  e->set_booking_id(c.booking_id);
  e->set_sequence(c.sequence);
  e->set_from_status(c.from_status.value_or(""));
  e->set_to_status(c.to_status);
  e->set_changed_by(c.changed_by.value_or(""));
  e->set_reason(c.reason.value_or(""));
  if (c.metadata) {
    (void)google::protobuf::util::JsonStringToMessage(*c.metadata, e->mutable_metadata());
  }
  *e->mutable_create_time() =
      google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(c.created_micros);
  out->set_canonical(Canonical(c));
  out->set_row_hash(row.row_hash.value_or(""));
}

history::v1::VerifyHistoryResponse VerifyBooking(pqxx::transaction_base& txn,
                                                 const std::string& booking_id,
                                                 const std::string& bound) {
  history::v1::VerifyHistoryResponse response;
  response.set_verified(true);
  BookingReads read = ReadBooking(txn, booking_id, bound);
  std::vector<StoredRow> rows;
  std::vector<std::optional<uint64_t>> leaves;
  const StoredRowLayout at(read.rows);
  const pqxx::row_size_type leaf_at = read.rows.column_number("leaf_index");
  for (const pqxx::row& row : read.rows) {
    rows.push_back(ReadStoredRow(row, at));
    ToVerifiedRow(rows.back(), response.add_rows());
    leaves.push_back(row[leaf_at].is_null() ? std::nullopt
                                            : std::optional(row[leaf_at].as<uint64_t>()));
  }
  if (std::optional<Finding> f = CheckChain(rows)) Fail(response, *f);
  if (read.gone) Fail(response, *read.gone);
  if (!read.log.ok()) {
    Fail(response, Finding{booking_id, 0, std::string(read.log.status().message())});
  } else if (*read.log) {
    AddLogProofs(txn, bound, **read.log, rows, leaves, response);  // the second round trip
  }
  if (!read.checkpoint.checkpoint) return response;
  *response.mutable_checkpoint() = *read.checkpoint.checkpoint;
  // Every head a checkpoint kept for the booking must still be there (a
  // deleted last row shows even after a later checkpoint); the last of them
  // is its head at the newest checkpoint.
  for (const Head& head : read.checkpoint.heads) {
    if (std::optional<Finding> f = CheckHead(rows, head)) Fail(response, *f);
  }
  if (read.checkpoint.heads.empty()) return response;
  response.set_checkpoint_sequence(read.checkpoint.heads.back().sequence);
  response.set_checkpoint_row_hash(read.checkpoint.heads.back().row_hash);
  return response;
}

std::string CheckVerifyResponse(const history::v1::VerifyHistoryResponse& r,
                                const std::string& public_key) {
  std::string previous = FirstPrevious();
  std::string head_hash;
  for (const history::v1::VerifiedRow& row : r.rows()) {
    if (absl::Status s = CheckEntryShowsCanonical(row.entry(), row.canonical()); !s.ok()) {
      return std::string(s.message());
    }
    if (HashCanonical(previous, row.canonical()) != row.row_hash()) {
      return absl::StrCat("booking ", row.entry().booking_id(), " sequence ",
                          row.entry().sequence(), ": hash does not verify");
    }
    previous = row.row_hash();
    if (row.entry().sequence() == r.checkpoint_sequence()) head_hash = row.row_hash();
  }
  if (r.has_log_checkpoint()) {
    if (std::string problem = CheckLogProofs(r, public_key); !problem.empty()) return problem;
  }
  if (!r.has_checkpoint()) return "";
  if (!SignatureValid(r.checkpoint(), public_key))
    return "the checkpoint's signature does not verify";
  if (r.checkpoint_sequence() == 0) return "";
  if (head_hash != r.checkpoint_row_hash()) {
    return absl::StrCat("sequence ", r.checkpoint_sequence(),
                        ": not the head the checkpoint holds");
  }
  // An audit path only comes from servers before per-booking verify stopped
  // rebuilding the tree (verify_booking.h); one that comes is checked.
  if (r.audit_path().empty()) return "";
  const std::string booking = r.rows_size() > 0 ? r.rows(0).entry().booking_id() : "";
  const std::string leaf = LeafHash({booking, r.checkpoint_sequence(), r.checkpoint_row_hash()});
  std::vector<std::string> path(r.audit_path().begin(), r.audit_path().end());
  if (!VerifyAuditPath(leaf, static_cast<uint64_t>(r.leaf_index()),
                       static_cast<uint64_t>(r.checkpoint().booking_count()), path,
                       r.checkpoint().root())) {
    return "the audit path does not lead to the checkpoint's root";
  }
  return "";
}

}  // namespace booking
