#include "booking-service/relay_partitions.h"

#include <algorithm>

#include "booking-service/relay_outbox.h"

namespace booking {

PartitionOwnership::PartitionOwnership(pqxx::connection& db)
    : db_(db), rng_(std::random_device{}()) {
  pqxx::nontransaction txn(db_);
  txn.exec_params("SELECT pg_advisory_lock_shared($1, $2)", kRelayLockClass, kRelayMemberKey);
}

PartitionOwnership::Change PartitionOwnership::Rebalance() {
  pqxx::nontransaction txn(db_);
  Change change;
  change.relays = CountRelays(txn);
  const size_t share = static_cast<size_t>((kRelayPartitions + change.relays - 1) / change.relays);
  change.released = Release(txn, share);
  change.taken = Take(txn, share);
  return change;
}

int64_t PartitionOwnership::CountRelays(pqxx::nontransaction& txn) {
  pqxx::result r = txn.exec_params(
      R"(SELECT count(*) AS relays FROM pg_locks
         WHERE locktype = 'advisory' AND granted AND objsubid = 2
           AND classid = $1::oid AND objid = $2::oid
           AND database = (SELECT oid FROM pg_database WHERE datname = current_database()))",
      kRelayLockClass, kRelayMemberKey);
  return std::max<int64_t>(1, r[0]["relays"].as<int64_t>());
}

std::vector<int> PartitionOwnership::Release(pqxx::nontransaction& txn, size_t share) {
  std::vector<int> released;
  while (owned_.size() > share) {
    const int p = owned_.back();
    txn.exec_params("SELECT pg_advisory_unlock($1, $2)", kRelayLockClass, p);
    owned_.pop_back();
    released.push_back(p);
  }
  return released;
}

std::vector<int> PartitionOwnership::Take(pqxx::nontransaction& txn, size_t share) {
  std::vector<int> taken;
  // Free partitions are tried from a random start so that relays starting
  // together do not all go for the same ones.
  const int start = std::uniform_int_distribution<int>(0, kRelayPartitions - 1)(rng_);
  for (int i = 0; i < kRelayPartitions && owned_.size() < share; ++i) {
    const int p = (start + i) % kRelayPartitions;
    if (std::binary_search(owned_.begin(), owned_.end(), p)) continue;
    // One lock per statement: its answer says whether this session holds it.
    if (!txn.exec_params("SELECT pg_try_advisory_lock($1, $2) AS taken", kRelayLockClass,
                         p)[0]["taken"]
             .as<bool>()) {
      continue;
    }
    owned_.insert(std::upper_bound(owned_.begin(), owned_.end(), p), p);
    taken.push_back(p);
  }
  return taken;
}

}  // namespace booking
