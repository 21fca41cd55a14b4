// The WatchHistory call: its request checked, then a watch on the hub whose
// queued messages are written one at a time (callback API: a watch holds no
// server thread while it waits).
#ifndef HISTORY_SERVICE_WATCH_STREAM_H_
#define HISTORY_SERVICE_WATCH_STREAM_H_

#include "grpcpp/grpcpp.h"
#include "history-service/watch_hub.h"
#include "history/v1/history.pb.h"

namespace booking {

// The reactor gRPC runs the call with (it deletes itself when done). `hub`
// null: the call is refused as UNIMPLEMENTED (a server built without one).
grpc::ServerWriteReactor<history::v1::WatchHistoryResponse>* StartWatch(
    grpc::CallbackServerContext* context, const history::v1::WatchHistoryRequest& request,
    WatchHub* hub);

}  // namespace booking

#endif  // HISTORY_SERVICE_WATCH_STREAM_H_
