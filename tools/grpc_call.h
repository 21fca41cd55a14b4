// grpc-call: a small gRPC command-line client taking grpcurl's flags for what
// README's examples use, so that they run where grpcurl is not installed
// (Debian 12 has no package of it):
//
//   grpc-call [-plaintext | -cacert F [-cert F -key F]] [-H 'name: value']...
//             [-d JSON] [-v] [-max-time SECONDS] [-max-msgs N]
//             ADDR (list [SERVICE] | SERVICE/METHOD)
//
// Requests and responses are JSON (protobuf's JSON mapping, as grpcurl
// prints it); methods are looked up among the descriptors compiled into the
// binary (booking.v1, history.v1, grpc.health.v1, grpc.reflection), sent as
// bytes through a generic stub; `list` asks the server by reflection.
// Unary and server-streaming methods; a failed call prints grpcurl's
// "ERROR:" block and exits 64 + its code, as grpcurl does.
#ifndef BOOKING_TOOLS_GRPC_CALL_H_
#define BOOKING_TOOLS_GRPC_CALL_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "grpcpp/grpcpp.h"

namespace booking::grpc_call {

// Exit codes (grpcurl's): 0 done, 1 the call could not be made (bad request
// JSON, unknown method, unreadable files), 2 usage, 64 + code: the server
// (or the channel) ended the call with that code.
inline constexpr int kExitFailed = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitStatusOffset = 64;

struct Options {
  bool plaintext = false;
  std::string cacert, cert, key;
  std::vector<std::pair<std::string, std::string>> headers;  // names lowercased
  std::string data = "{}";                                   // the request, JSON
  bool verbose = false;
  double max_time_seconds = 0;  // 0: no deadline
  int max_msgs = 0;             // 0: every response; else stop (OK) after N
  std::string address;
  // "list" with an optional service, or the method to call.
  bool list = false;
  std::string symbol;  // list: the service (may be empty); else the method
};

// The command line (without argv[0]): INVALID_ARGUMENT saying what is wrong.
absl::StatusOr<Options> ParseArgs(const std::vector<std::string>& args);

// What `grpc-call -help` prints.
const char* Usage();

// A channel to options.address with the credentials the flags ask for.
absl::StatusOr<std::shared_ptr<grpc::Channel>> OpenChannel(const Options& options);

// Calls options.symbol on `channel`, prints each response as JSON on stdout
// (and with -v grpcurl's headers and trailers); returns the exit code.
int Call(const Options& options, const std::shared_ptr<grpc::Channel>& channel);

// `list`: the services the server names by reflection, or one service's
// methods (from the compiled-in descriptors); returns the exit code.
int List(const Options& options, const std::shared_ptr<grpc::Channel>& channel);

// grpcurl's error block for a failed call, on stderr; returns 64 + code.
int PrintError(const grpc::Status& status);

}  // namespace booking::grpc_call

#endif  // BOOKING_TOOLS_GRPC_CALL_H_
