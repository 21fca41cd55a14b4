#include "history-service/verify.h"

#include "absl/strings/str_cat.h"
#include "pqxx/pqxx"

namespace booking {

std::string StoredRowColumns() {
  return absl::StrCat(kContentColumns, R"(, "rowHash" AS row_hash)");
}

StoredRowLayout::StoredRowLayout(const pqxx::result& r)
    : content(r), row_hash(r.column_number("row_hash")) {}
StoredRowLayout::StoredRowLayout(const pqxx::row& row)
    : content(row), row_hash(row.column_number("row_hash")) {}

StoredRow ReadStoredRow(const pqxx::row& row, const StoredRowLayout& at) {
  StoredRow r{ReadContent(row, at.content), std::nullopt};
  const pqxx::field hash = row[at.row_hash];
  if (!hash.is_null()) r.row_hash = pqxx::binarystring(hash).str();
  return r;
}

StoredRow ReadStoredRow(const pqxx::row& row) { return ReadStoredRow(row, StoredRowLayout(row)); }

std::optional<Finding> CheckChain(const std::vector<StoredRow>& rows) {
  std::string previous = FirstPrevious();
  int64_t previous_sequence = 0;
  for (const StoredRow& row : rows) {
    const RowContent& c = row.content;
    auto finding = [&](std::string problem) {
      return Finding{c.booking_id, c.sequence, std::move(problem)};
    };
    if (!row.row_hash) {
      return finding("the row has no hash: written outside history-service (inserted)");
    }
    if (RowHash(previous, c) != *row.row_hash) {
      if (c.sequence != previous_sequence + 1) {
        return finding(absl::StrCat("the row does not follow ",
                                    previous_sequence == 0
                                        ? std::string("the start of the booking's history")
                                        : absl::StrCat("sequence ", previous_sequence),
                                    ": the rows between were deleted, or rows were reordered"));
      }
      return finding(
          "the row's hash does not match its content and the previous row's hash: the row was "
          "edited, inserted or moved");
    }
    previous = *row.row_hash;
    previous_sequence = c.sequence;
  }
  return std::nullopt;
}

std::optional<Finding> CheckHead(const std::vector<StoredRow>& rows, const Head& signed_head) {
  for (const StoredRow& row : rows) {
    if (row.content.sequence != signed_head.sequence) continue;
    if (row.row_hash != signed_head.row_hash) {
      return Finding{signed_head.booking_id, signed_head.sequence,
                     "the row differs from the head the signed checkpoint holds"};
    }
    return std::nullopt;
  }
  return Finding{signed_head.booking_id, signed_head.sequence,
                 rows.empty() ? "every row of the booking is gone; the signed checkpoint holds "
                                "this sequence as its head"
                              : "the row the signed checkpoint holds as the booking's head is gone "
                                "(deleted)"};
}

}  // namespace booking
