#!/usr/bin/env bash
# Writes the hand-made seed inputs (seed_*) of tests/fuzz/corpus/<target>/
# from the text-format messages below, with protoc --encode. Crash inputs kept
# as regressions sit beside them under other names and are left alone.
set -euo pipefail
cd "$(dirname "$0")"
proto=../../proto
inc=(-I"$proto" -I/usr/include)

# encode TARGET NAME TYPE FILE TEXT
encode() {
  mkdir -p "corpus/$1"
  printf '%s\n' "$5" | protoc "${inc[@]}" --encode="$3" "$4" >"corpus/$1/seed_$2"
}
text() {
  mkdir -p "corpus/$1"
  printf '%s' "$3" >"corpus/$1/seed_$2"
}

b=booking.v1
encode request_checks create $b.CreateBookingRequest booking/v1/booking.proto '
booking_id: "bk-1" customer_id: "cust-7" request_id: "req-1" reason: "new"
metadata { fields { key: "source" value { string_value: "web" } }
           fields { key: "n" value { number_value: 2.5 } } }'
encode request_checks change $b.ChangeStatusRequest booking/v1/booking.proto '
booking_id: "bk-1" target_status: 2 expected_version: 3 request_id: "r2" reason: "paid"
metadata { fields { key: "l" value { list_value { values { bool_value: true }
                                                   values { null_value: NULL_VALUE } } } } }'
encode request_checks extension $b.CreateExtensionRequest booking/v1/booking.proto '
booking_id: "bk-1" description: "wash" price_cents: 1500 request_id: "r3"'
encode request_checks get $b.GetBookingRequest booking/v1/booking.proto 'booking_id: "bk-1"'
encode request_checks list $b.ListBookingsRequest booking/v1/booking.proto '
status: 1 page_size: 20 page_token: "YmstMQ"'
encode request_checks nul_id $b.CreateBookingRequest booking/v1/booking.proto '
booking_id: "ab\000cd" customer_id: "c"'

s=google.protobuf.Struct
encode metadata_binary flat $s google/protobuf/struct.proto '
fields { key: "a" value { string_value: "caf\303\251" } }
fields { key: "b" value { number_value: -0.5 } }
fields { key: "c" value { bool_value: false } }
fields { key: "d" value { null_value: NULL_VALUE } }'
encode metadata_binary nested $s google/protobuf/struct.proto '
fields { key: "o" value { struct_value { fields { key: "l" value { list_value {
  values { struct_value { fields { key: "x" value { number_value: 1e300 } } } }
  values { string_value: "" } } } } } } }'
encode metadata_binary no_kind $s google/protobuf/struct.proto 'fields { key: "k" value { } }'

text metadata_json flat '{"a":"café","b":-0.5,"c":false,"d":null,"e":[1,"x",{}]}'
text metadata_json nested '{"o":{"p":{"q":[[{"r":"\u00e9\ud83d\ude00"}]]}}}'
text metadata_json escapes '{"nul":"a\u0000b","tab":"\t\"\\/","big":1e308,"neg":-0}'
text metadata_json empty '{}'
# Nesting at the limit (16 levels) and one beyond it.
deep() { printf '%*s' "$1" '' | sed 's/ /{"a":/g'; printf '1'; printf '%*s' "$1" '' | tr ' ' '}'; }
text metadata_json depth16 "$(deep 16)"
text metadata_json depth17 "$(deep 17)"

# The issue's poison: metadata nested 32 levels deep.
nest=$(printf '%*s' 31 '' | sed 's/ /fields { key: "a" value { struct_value { /g')
close=$(printf '%*s' 31 '' | sed 's/ /} } } /g')
encode request_checks nested32 $b.ChangeStatusRequest booking/v1/booking.proto "
booking_id: \"bk-1\" metadata { $nest fields { key: \"z\" value { number_value: 1 } } $close }"

h=history.v1
encode ingest_encoding batch $h.IngestRequest history/v1/history.proto '
batch_id: 7
events { event_id: "0b6f7c2a-3f55-4a8e-9a55-1f2b3c4d5e6f" booking_id: "bk-1" sequence: 1
         to_status: "CONFIRMED" from_status: "PENDING_PAYMENT" changed_by: "api"
         reason: "paid" change_time { seconds: 1700000000 nanos: 5 }
         metadata { fields { key: "k" value { string_value: "v" } } } }
events { event_id: "not-a-uuid" booking_id: "bk-2" sequence: 1 to_status: "CONFIRMED"
         changed_by: "api" change_time { seconds: 1 } }
events { event_id: "0B6F7C2A-3F55-4A8E-9A55-1F2B3C4D5E70" booking_id: "bk-1" sequence: 2
         to_status: "IN_WORKSHOP" from_status: "CONFIRMED" changed_by: "relay"
         change_time { seconds: -62135596800 } }'
# Metadata at the nesting limit: 16 levels, lists and objects alternating.
n16=$(printf '%*s' 7 '' | sed 's/ /fields { key: "a" value { list_value { values { struct_value { /g')
n16+='fields { key: "z" value { list_value { values { number_value: 1 } } } }'
c16=$(printf '%*s' 7 '' | sed 's/ /} } } } } /g')
encode ingest_encoding deep16 $h.IngestRequest history/v1/history.proto "
events { event_id: \"0b6f7c2a-3f55-4a8e-9a55-1f2b3c4d5e6f\" booking_id: \"bk-1\" sequence: 1
         to_status: \"CONFIRMED\" changed_by: \"api\" change_time { seconds: 0 }
         metadata { $n16 $c16 } }"
encode ingest_encoding refused $h.IngestRequest history/v1/history.proto '
events { event_id: "0b6f7c2a-3f55-4a8e-9a55-1f2b3c4d5e6f" booking_id: "b\\u0000" sequence: 1
         to_status: "NO_SUCH" changed_by: "x" change_time { seconds: 253402300800 } }'
