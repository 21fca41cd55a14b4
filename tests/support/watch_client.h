// A test's WatchHistory caller and the events it ingests: a chain of status
// changes per booking, read back as entries.
#ifndef TESTS_SUPPORT_WATCH_CLIENT_H_
#define TESTS_SUPPORT_WATCH_CLIENT_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "history/v1/history.grpc.pb.h"
#include "tests/support/ingest_client.h"

namespace booking::testing {

// The label entry `sequence` of a Chain moves to (history checks labels, not
// transitions).
inline std::string ChainLabel(int64_t sequence) {
  return sequence % 2 == 1 ? "PENDING_PAYMENT" : "CONFIRMED";
}

// Events `first`..`last` of `booking`'s story, with event ids id_base +
// sequence.
inline std::vector<history::v1::StatusChangeEvent> Chain(const std::string& booking, int64_t first,
                                                         int64_t last, int64_t id_base) {
  std::vector<history::v1::StatusChangeEvent> out;
  for (int64_t s = first; s <= last; ++s) {
    out.push_back(StatusEvent(EventId(id_base + s), booking, s, s == 1 ? "" : ChainLabel(s - 1),
                              ChainLabel(s)));
  }
  return out;
}

class WatchClient {
 public:
  // Every read ends by the deadline: a test waiting for an entry that never
  // comes fails instead of hanging.
  // `small_window`: the client's transport takes at most a few KiB the
  // application has not read (no BDP growth), so a client that stops
  // reading soon stalls the server's writes, as a slow consumer over a real
  // network would.
  WatchClient(const std::string& target, const history::v1::WatchHistoryRequest& request,
              bool small_window = false)
      : stub_(history::v1::HistoryService::NewStub(grpc::CreateCustomChannel(
            target, grpc::InsecureChannelCredentials(), ChannelArgs(small_window)))) {
    context_.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(90));
    reader_ = stub_->WatchHistory(&context_, request);
  }
  ~WatchClient() {
    if (!finished_) {
      context_.TryCancel();
      (void)Finish();
    }
  }

  // The next message; nullopt once the stream ended (see Finish).
  std::optional<history::v1::WatchHistoryResponse> Next() {
    history::v1::WatchHistoryResponse r;
    if (!reader_->Read(&r)) return std::nullopt;
    last_token_ = r.resume_token();
    return r;
  }
  // The next `n` entries (bookmarks skipped); fewer when the stream ended.
  std::vector<history::v1::HistoryEntry> Entries(int n) {
    std::vector<history::v1::HistoryEntry> out;
    while (static_cast<int>(out.size()) < n) {
      std::optional<history::v1::WatchHistoryResponse> r = Next();
      if (!r) break;
      if (r->has_entry()) out.push_back(r->entry());
    }
    return out;
  }
  grpc::Status Finish() {
    finished_ = true;
    return reader_->Finish();
  }
  void Cancel() { context_.TryCancel(); }
  const std::string& last_token() const { return last_token_; }

 private:
  static grpc::ChannelArguments ChannelArgs(bool small_window) {
    grpc::ChannelArguments args;
    if (small_window) {
      args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
      args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 8192);
    }
    return args;
  }

  std::unique_ptr<history::v1::HistoryService::Stub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReader<history::v1::WatchHistoryResponse>> reader_;
  std::string last_token_;
  bool finished_ = false;
};

// "booking:sequence" of each entry, in order.
inline std::vector<std::string> Keys(const std::vector<history::v1::HistoryEntry>& entries) {
  std::vector<std::string> out;
  for (const auto& e : entries) out.push_back(absl::StrCat(e.booking_id(), ":", e.sequence()));
  return out;
}

inline std::vector<std::string> ExpectedKeys(const std::string& booking, int first, int last) {
  std::vector<std::string> out;
  for (int s = first; s <= last; ++s) out.push_back(absl::StrCat(booking, ":", s));
  return out;
}

// Keys of the entries up to and including the first of `sentinel` (a
// booking ingested last): what came before it, each once or not.
inline std::vector<std::string> KeysUntil(WatchClient& w, const std::string& sentinel) {
  std::vector<std::string> keys;
  for (std::vector<history::v1::HistoryEntry> e = w.Entries(1); !e.empty(); e = w.Entries(1)) {
    keys.push_back(Keys(e)[0]);
    if (e[0].booking_id() == sentinel) break;
  }
  return keys;
}

inline history::v1::WatchHistoryRequest ResumeFrom(const std::string& token) {
  history::v1::WatchHistoryRequest r;
  r.set_resume_token(token);
  return r;
}

// A watch that is running: its first message (a bookmark) arrived.
inline std::unique_ptr<WatchClient> OpenWatch(const std::string& target,
                                              const history::v1::WatchHistoryRequest& request,
                                              bool small_window = false) {
  auto w = std::make_unique<WatchClient>(target, request, small_window);
  std::optional<history::v1::WatchHistoryResponse> first = w->Next();
  EXPECT_TRUE(first.has_value() && !first->has_entry() && !first->resume_token().empty());
  return w;
}

// Ingests `events` as one batch on a stream of its own; all must be stored.
inline void IngestAll(const std::string& target,
                      const std::vector<history::v1::StatusChangeEvent>& events) {
  IngestClient client(target);
  absl::StatusOr<history::v1::IngestAck> ack = client.Send(events);
  ASSERT_TRUE(ack.ok()) << ack.status();
  ASSERT_EQ(ack->stored(), static_cast<int>(events.size())) << ack->DebugString();
}

}  // namespace booking::testing

#endif  // TESTS_SUPPORT_WATCH_CLIENT_H_
