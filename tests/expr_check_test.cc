// The expression checks (migrator/status_enum/expr_check.h) on definitions
// as PostgreSQL 15 stores them: each case is created for real (a view, a
// CHECK, a default, a trigger's WHEN, a SQL function body), its stored form
// read from the catalog and judged. Carried cases list every label literal
// they name; refused ones say why.
#include "migrator/status_enum/expr_check.h"

#include <regex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "pqxx/pqxx"
#include "tests/support/fixtures.h"
#include "tests/support/pg_suite.h"

namespace booking::migrator {
namespace {

using ::booking::testing::Exec;
using ::booking::testing::PgSuite;

struct Case {
  const char* where;  // view, check, default, when, body
  const char* sql;
  const char* refused;  // a substring of the refusal, or nullptr when carried
  std::vector<std::string> labels = {};
};

const Case kCases[] = {
    {"view", R"(SELECT id FROM "Booking" WHERE status = 'IN_WORKSHOP')", nullptr, {"IN_WORKSHOP"}},
    {"view",
     R"(SELECT id FROM "Booking" WHERE status IN ('IN_WORKSHOP', 'COMPLETED'))",
     nullptr,
     {"IN_WORKSHOP", "COMPLETED"}},
    {"view",
     R"(SELECT id FROM "Booking" WHERE status <> ALL ('{CANCELLED,DELIVERED}'))",
     nullptr,
     {"CANCELLED", "DELIVERED"}},
    {"view",
     R"(SELECT id FROM "Booking" WHERE status::text = 'COMPLETED')",
     nullptr,
     {"COMPLETED"}},
    {"view",
     R"(SELECT id FROM "Booking" WHERE status::text NOT IN ('COMPLETED', 'NOT_A_LABEL'))",
     nullptr,
     {"COMPLETED"}},
    {"view",
     R"(SELECT id, CASE WHEN status = 'IN_WORKSHOP' THEN 'w' ELSE 'o' END FROM "Booking")",
     nullptr,
     {"IN_WORKSHOP"}},
    {"view",
     R"(SELECT id, CASE status WHEN 'CONFIRMED' THEN 1 ELSE 0 END FROM "Booking")",
     nullptr,
     {"CONFIRMED"}},
    {"view",
     R"(SELECT status, count(*) AS n, count(status) AS m FROM "Booking" GROUP BY status ORDER BY 1)",
     nullptr},
    {"view", R"(SELECT max(status), min(status) FROM "Booking" WHERE status IS NOT NULL)", nullptr},
    {"view",
     R"(SELECT s.id FROM (SELECT id, status FROM "Booking") s WHERE s.status = 'CONFIRMED')",
     nullptr,
     {"CONFIRMED"}},
    {"view",
     R"(WITH c AS (SELECT id, status FROM "Booking") SELECT id FROM c
                WHERE status = 'CONFIRMED')",
     nullptr,
     {"CONFIRMED"}},
    {"view",
     R"(SELECT id FROM "Booking" b WHERE EXISTS (
                  SELECT 1 FROM "Booking" c WHERE c.id = b.id AND c.status = 'COMPLETED'))",
     nullptr,
     {"COMPLETED"}},
    {"view",
     R"(SELECT id, status::text AS label, 'IN_WORKSHOP'::"BookingStatus" AS fixed
                FROM "Booking")",
     nullptr,
     {"IN_WORKSHOP"}},
    {"view",
     R"(SELECT id FROM "Booking" WHERE COALESCE(status, 'CONFIRMED') = 'CONFIRMED')",
     nullptr,
     {"CONFIRMED", "CONFIRMED"}},
    {"check", R"(status <> 'CANCELLED' OR "workStartedAt" IS NULL)", nullptr, {"CANCELLED"}},
    {"default", R"('CONFIRMED')", nullptr, {"CONFIRMED"}},
    {"when",
     R"(OLD.status IS DISTINCT FROM NEW.status AND NEW.status = 'COMPLETED')",
     nullptr,
     {"COMPLETED"}},
    // Refused.
    {"view", R"(SELECT id FROM "Booking" WHERE status::text LIKE 'IN\_%')", "LIKE"},
    {"check", R"(status::text NOT LIKE 'IN\_TRANSIT%')", "NOT LIKE"},
    {"view", R"(SELECT id FROM "Booking" WHERE status < 'DELIVERED')", "ordering comparison"},
    {"view", R"(SELECT id FROM "Booking" WHERE status::text > 'C')", "an ordering"},
    {"view", R"(SELECT substring(status::text, 1, 3) FROM "Booking")", "to function \"substring\""},
    {"check", R"(length(status::text) > 3)", "to function length"},
    {"view", R"(SELECT id FROM "Booking" WHERE status::text || 'x' = 'COMPLETEDx')",
     "concatenation"},
    {"view", R"(SELECT id FROM "Booking" WHERE status::text ~ '^IN')", "regular expression"},
    {"view", R"(SELECT id FROM "Booking" WHERE upper(status::text) = 'COMPLETED')", "upper"},
    {"view", R"(SELECT id FROM "Booking" WHERE status::text = "customerId")", "not a literal"},
    {"view", R"(SELECT b.id FROM "Booking" b JOIN "Booking" c ON c.status = b.status)",
     "two values"},
    {"view", R"(SELECT id FROM "Booking" WHERE status IN (SELECT "previousStatus" FROM "Booking"))",
     "two values"},
    {"view", R"(SELECT id, greatest(status, 'CONFIRMED') FROM "Booking")", "MINMAXEXPR"},
    {"view", R"(SELECT id, enum_first(status) FROM "Booking")", "enum_first"},
    {"view", R"(SELECT to_jsonb(b) FROM "Booking" b)", "to function to_jsonb"},
    {"view", R"(SELECT b FROM "Booking" b)", "whole row"},
    {"view", R"(SELECT id FROM "Booking" WHERE status = ANY (ARRAY["previousStatus"]))",
     "not a list of label literals"},
    {"view", R"(SELECT id, NULLIF(status, 'CANCELLED') FROM "Booking")", "NULLIF"},
    {"default",
     R"((CASE WHEN now() > '2020-01-01' THEN 'IN_WORKSHOP' ELSE 'CONFIRMED' END)::"BookingStatus")",
     "text computed at run time"},
    {"body", R"(SELECT CASE WHEN s = 'IN_WORKSHOP' THEN 'w' ELSE 'o' END)", "its body names"},
    {"body", R"(SELECT s LIKE 'IN\_%')", "matches) the old label IN_WORKSHOP"},
    {"body", R"(SELECT CASE WHEN s = 'PICKUP_ASSIGNED' THEN 'new code' END)", nullptr},
};

class ExprCheckTest : public PgSuite {
 protected:
  static void SetUpTestSuite() {
    PgSuite::SetUpTestSuite();
    url_ = *pg_->CreateDatabase("expr_check");
    Exec(url_, R"(CREATE TYPE "BookingStatus" AS ENUM ('PENDING_PAYMENT', 'CONFIRMED',
                    'JOCKEY_ASSIGNED', 'IN_TRANSIT_TO_WORKSHOP', 'IN_WORKSHOP', 'COMPLETED',
                    'IN_TRANSIT_TO_CUSTOMER', 'DELIVERED', 'CANCELLED');
                  CREATE TABLE "Booking" (id TEXT PRIMARY KEY, "customerId" TEXT,
                    status "BookingStatus" NOT NULL, "previousStatus" "BookingStatus",
                    "workStartedAt" TIMESTAMP(3));)");
    pqxx::connection conn(url_);
    pqxx::read_transaction tx(conn);
    pqxx::row t =
        tx.exec(R"(SELECT oid, typarray FROM pg_type WHERE typname = 'BookingStatus')")[0];
    types_.set_enum_oid(t[0].as<uint32_t>());
    types_.set_array_oid(t[1].as<uint32_t>());
    for (const pqxx::row& l : tx.exec("SELECT oid, enumlabel FROM pg_enum")) {
      (*types_.mutable_labels())[l[0].as<uint32_t>()] = l[1].as<std::string>();
    }
    for (const pqxx::row& c : tx.exec(R"(SELECT reltype, (SELECT typarray FROM pg_type
                                          WHERE oid = reltype) FROM pg_class
                                          WHERE relname = 'Booking')")) {
      (*types_.mutable_containers())[c[0].as<uint32_t>()] = "\"Booking\"";
      (*types_.mutable_containers())[c[1].as<uint32_t>()] = "\"Booking\"[]";
    }
  }

  // Creates the case's object and returns its stored form and how it is used.
  static std::pair<std::string, ExprUse> Stored(const Case& c, int n) {
    const std::string name = absl::StrCat("case_", n);
    const std::string w = c.where;
    std::string sql, read;
    ExprUse use = ExprUse::kCondition;
    if (w == "view") {
      sql = absl::StrCat("CREATE VIEW ", name, " AS ", c.sql);
      read =
          absl::StrCat("SELECT ev_action FROM pg_rewrite WHERE ev_class = '", name, "'::regclass");
      use = ExprUse::kQueries;
    } else if (w == "check") {
      sql = absl::StrCat(R"(ALTER TABLE "Booking" ADD CONSTRAINT )", name, " CHECK (", c.sql, ")");
      read = absl::StrCat("SELECT conbin FROM pg_constraint WHERE conname = '", name, "'");
    } else if (w == "default") {
      sql = absl::StrCat(R"(ALTER TABLE "Booking" ADD COLUMN )", name,
                         R"( "BookingStatus" DEFAULT )", c.sql);
      read = absl::StrCat(R"(SELECT adbin FROM pg_attrdef WHERE adrelid = '"Booking"'::regclass
                             AND adnum = (SELECT attnum FROM pg_attribute WHERE attname = ')",
                          name, "' AND attrelid = '\"Booking\"'::regclass)");
      use = ExprUse::kValue;
    } else if (w == "when") {
      sql = absl::StrCat("CREATE FUNCTION ", name,
                         "() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$; "
                         "CREATE TRIGGER ",
                         name, R"( AFTER UPDATE ON "Booking" FOR EACH ROW WHEN ()", c.sql,
                         ") EXECUTE FUNCTION ", name, "()");
      read = absl::StrCat("SELECT tgqual FROM pg_trigger WHERE tgname = '", name, "'");
    } else {
      sql = absl::StrCat("CREATE FUNCTION ", name,
                         "(s text) RETURNS text LANGUAGE sql BEGIN ATOMIC ", c.sql, "; END");
      read = absl::StrCat("SELECT prosqlbody FROM pg_proc WHERE proname = '", name, "'");
      use = ExprUse::kBody;
    }
    Exec(url_, sql);
    pqxx::connection conn(url_);
    pqxx::read_transaction tx(conn);
    std::string tree = tx.exec(read)[0][0].as<std::string>();
    Name(tx, tree);
    return {tree, use};
  }

  // The names of the operators and functions `tree` uses, as the migrator's
  // inventory reads them.
  static void Name(pqxx::read_transaction& tx, const std::string& tree) {
    static const std::regex kOid(R"(:(opno|funcid|aggfnoid|winfnoid) (\d+))");
    for (auto m = std::sregex_iterator(tree.begin(), tree.end(), kOid); m != std::sregex_iterator();
         ++m) {
      const char* cast = (*m)[1] == "opno" ? "regoperator" : "regprocedure";
      (*types_.mutable_names())[std::stoul((*m)[2])] =
          tx.exec(absl::StrCat("SELECT ", (*m)[2].str(), "::", cast, "::text"))[0][0].c_str();
    }
  }

  inline static std::string url_;
  inline static ::migrator::v1::TypeFacts types_;
};

TEST_F(ExprCheckTest, CarriesWhatItKnowsAndRefusesTheRestWithTheReason) {
  int n = 0;
  for (const Case& c : kCases) {
    SCOPED_TRACE(absl::StrCat(c.where, ": ", c.sql));
    const auto [tree, use] = Stored(c, n++);
    const ExprVerdict v = CheckStoredExpr(tree, use, types_, {}, std::string(c.where) == "when");
    if (c.refused == nullptr) {
      EXPECT_TRUE(v.refusals.empty()) << absl::StrJoin(v.refusals, "\n");
      EXPECT_EQ(v.labels, c.labels);
    } else {
      EXPECT_NE(absl::StrJoin(v.refusals, "\n").find(c.refused), std::string::npos)
          << "refusals: " << absl::StrJoin(v.refusals, "\n");
    }
  }
}

// A view reading a label another view passes out as text is judged by what
// that view passes out.
TEST_F(ExprCheckTest, FollowsLabelsPassedOutAsTextThroughViews) {
  Exec(url_, R"(CREATE VIEW labelled AS SELECT id, status::text AS label FROM "Booking";
                CREATE VIEW by_label AS SELECT id FROM labelled WHERE label LIKE 'IN%';
                CREATE VIEW by_equal AS SELECT id FROM labelled WHERE label = 'COMPLETED')");
  pqxx::connection conn(url_);
  pqxx::read_transaction tx(conn);
  const auto tree = [&](const char* view) {
    pqxx::row r = tx.exec(absl::StrCat("SELECT ev_action, '", view, "'::regclass::oid FROM ",
                                       "pg_rewrite WHERE ev_class = '", view, "'::regclass"))[0];
    Name(tx, r[0].c_str());
    return r;
  };
  const pqxx::row base = tree("labelled");
  const ExprVerdict first = CheckStoredExpr(base[0].c_str(), ExprUse::kQueries, types_, {}, false);
  ASSERT_EQ(first.label_text_outputs, std::vector<int>{2});
  LabelTextColumns columns = {{base[1].as<uint32_t>(), 2}};
  const ExprVerdict like =
      CheckStoredExpr(tree("by_label")[0].c_str(), ExprUse::kQueries, types_, columns, false);
  EXPECT_NE(absl::StrJoin(like.refusals, "\n").find("LIKE"), std::string::npos);
  const ExprVerdict equal =
      CheckStoredExpr(tree("by_equal")[0].c_str(), ExprUse::kQueries, types_, columns, false);
  EXPECT_TRUE(equal.refusals.empty()) << absl::StrJoin(equal.refusals, "\n");
  EXPECT_EQ(equal.labels, std::vector<std::string>{"COMPLETED"});
}

TEST(ExprCheckUnit, RefusesWhatItCannotRead) {
  const ExprVerdict v = CheckStoredExpr("{OPEXPR :opno", ExprUse::kCondition, {}, {}, false);
  ASSERT_EQ(v.refusals.size(), 1u);
  EXPECT_NE(v.refusals[0].find("cannot be read"), std::string::npos);
}

}  // namespace
}  // namespace booking::migrator
