// libpqxx 6.4's types by name only, for headers that take them by reference
// or pointer, so that a file including such a header compiles no libpqxx
// header unless it uses libpqxx itself (then it includes "pqxx/pqxx").
// libpqxx 6.4 has no forward header of its own beyond pqxx/types.hxx, which
// lacks `connection` (a template alias). pqxx::work cannot be declared here:
// its template arguments are enumerators of libpqxx's headers.
#ifndef BOOKING_COMMON_PQXX_FWD_H_
#define BOOKING_COMMON_PQXX_FWD_H_

#include <functional>

namespace pqxx {

class field;
class result;
class row;
class transaction_base;

class connect_direct;
template <typename CONNECTPOLICY>
class basic_connection_base;
using connection = basic_connection_base<connect_direct>;

}  // namespace pqxx

namespace booking {

// Runs after a connection opens (e.g. SET statement_timeout).
using ConnectionSetup = std::function<void(pqxx::connection&)>;

}  // namespace booking

#endif  // BOOKING_COMMON_PQXX_FWD_H_
