// Which outbox partitions this relay relays: one session advisory lock per
// partition, taken and given up towards a fair share of the relays counted
// by a shared advisory lock. A relay here is one lane (Ingest stream) of a
// replica's OutboxRelay, each on its own connection.
//
// Every lock is taken by a statement of its own (SELECT
// pg_try_advisory_lock(class, partition)) whose answer is recorded before
// anything else runs, so the partitions this relay believes it owns are
// exactly the locks its connection holds. A statement that fails leaves that
// unknown (a session lock survives the failed statement): the caller then
// ends the session, closing the connection and with it every lock.
#ifndef BOOKING_SERVICE_RELAY_PARTITIONS_H_
#define BOOKING_SERVICE_RELAY_PARTITIONS_H_

#include <cstdint>
#include <random>
#include <vector>

#include "pqxx/pqxx"

namespace booking {

// Advisory locks of the relay, two-int form (classid, objid): one per
// partition, exclusive; and one shared by every running relay, to count them.
inline constexpr int kRelayLockClass = 0x62726c79;  // "brly"
inline constexpr int kRelayMemberKey = 1000;

// Not thread safe: owned by one thread (the relay thread).
class PartitionOwnership {
 public:
  // Registers `db`'s session as a running relay (the shared lock).
  explicit PartitionOwnership(pqxx::connection& db);

  struct Change {
    std::vector<int> taken;
    std::vector<int> released;
    int64_t relays = 1;
  };
  // Gives up partitions beyond a fair share, then tries free ones, one at a
  // time, until the share is held or none is free.
  Change Rebalance();

  // Sorted.
  const std::vector<int>& owned() const { return owned_; }

 private:
  int64_t CountRelays(pqxx::nontransaction& txn);
  std::vector<int> Release(pqxx::nontransaction& txn, size_t share);
  std::vector<int> Take(pqxx::nontransaction& txn, size_t share);

  pqxx::connection& db_;
  std::vector<int> owned_;
  std::minstd_rand rng_;
};

}  // namespace booking

#endif  // BOOKING_SERVICE_RELAY_PARTITIONS_H_
