// What the catalog says, read fresh by every phase: where the booking table
// and its status type are, and every object that depends on the type or a
// column of it (through views over views too), or names an old label in a
// function body. Facts only; plan.h judges them.
#ifndef MIGRATOR_STATUS_ENUM_INVENTORY_H_
#define MIGRATOR_STATUS_ENUM_INVENTORY_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "migrator/v1/status_plan.pb.h"

namespace booking::migrator {

class Tx;  // migrator/status_enum/db.h

using PlanObject = ::migrator::v1::DependentObject;
using StatusPlan = ::migrator::v1::StatusPlan;

// Names of what the migrator itself creates (and must not mistake for the
// user's, nor leave behind).
inline constexpr char kNextTypeSuffix[] = "__next";
inline constexpr char kBackupTable[] = "Booking_Status_Migration_Backup";
inline constexpr char kCaptureFunction[] = "Booking_status_capture";

struct StoreInfo {
  std::string schema;  // raw
  std::string table;   // "Booking" as SQL spells it on the migrator's search_path
  uint32_t table_oid = 0;
  uint32_t type_oid = 0;
  std::string type;         // as PostgreSQL prints it here, e.g. "BookingStatus" quoted
  std::string next_type;    // the type contract builds, spelled the same way
  std::string type_schema;  // raw
  std::string type_name;    // raw
  std::vector<std::string> labels;
};

// The "Booking" table on the search_path (Db::Prepare set it) and the type
// of its status column. FAILED_PRECONDITION when the store does not have
// that shape.
absl::StatusOr<StoreInfo> ReadStore(Tx& tx);

// Every object that depends on the type or names a label, as facts: its
// kind as the catalog says, its definitions (printed and stored), owner and
// privileges; the type's facts; the migrator's role. Nothing is judged here:
// JudgePlan (plan.h) decides, from these facts alone.
StatusPlan ReadInventory(Tx& tx, const StoreInfo& store);

// Parts of ReadInventory, by kind (inventory_*.cc).
void ReadTypeFacts(Tx& tx, const StoreInfo& store, StatusPlan& plan);
void ReadRoleFacts(Tx& tx, const StoreInfo& store, StatusPlan& plan);
void ReadColumns(Tx& tx, const StoreInfo& store, StatusPlan& plan);
void ReadIndexes(Tx& tx, const StoreInfo& store, StatusPlan& plan);
void ReadViews(Tx& tx, const StoreInfo& store, StatusPlan& plan);
void ReadTableObjects(Tx& tx, const StoreInfo& store, StatusPlan& plan);
void ReadOtherDependents(Tx& tx, const StoreInfo& store, StatusPlan& plan);
void ReadFunctions(Tx& tx, const StoreInfo& store, StatusPlan& plan);
// Names of the operators and functions the stored expressions use.
void ReadOperatorNames(Tx& tx, StatusPlan& plan);

// An object of `kind` found (once per kind and name); `detail` says what
// about it a refusal names.
PlanObject& AddFound(StatusPlan& plan, const std::string& kind, const std::string& name,
                     const std::string& detail = "");
// The containers of the type (TypeFacts.containers) as an oid[] literal,
// the type and its array included.
std::string TaintedTypesLiteral(const StatusPlan& plan);

// The objects of `plan` of `kind`, in order.
std::vector<const PlanObject*> ObjectsOfKind(const StatusPlan& plan, const std::string& kind);

}  // namespace booking::migrator

#endif  // MIGRATOR_STATUS_ENUM_INVENTORY_H_
