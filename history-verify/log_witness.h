// `history-verify log`: a witness of the history store's transparency log
// (issue 22). It checks the newest signed log checkpoint with the log's
// public key, proves from the store's tiles that it extends the checkpoint
// the witness file holds (RFC 9162 consistency), and only then keeps it in
// the file (common/tlog/witness.h: atomic replace). A log that was rolled
// back or forked, or a checkpoint not signed by the key, is refused and the
// file is left as it was.
// Thread safety: a function of its arguments and the file; one caller per
// witness file at a time.
#ifndef HISTORY_VERIFY_LOG_WITNESS_H_
#define HISTORY_VERIFY_LOG_WITNESS_H_

#include <string>

#include "common/pqxx_fwd.h"

namespace booking {

// Exit codes: 0 verified (or a first checkpoint trusted), 1 refused (the log
// or its checkpoint does not hold), 2 setup (no checkpoint yet, an unusable
// witness file). Prints what it found on stdout, a refusal's reason too.
int WitnessLog(pqxx::connection& conn, const std::string& public_key,
               const std::string& witness_file);

}  // namespace booking

#endif  // HISTORY_VERIFY_LOG_WITNESS_H_
