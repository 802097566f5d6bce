// engine/serialized.hpp — irregular control messages (structs of strings and vectors) through
// Boost.Serialization. Bulk data never goes this way: it travels as spans of PODs.
#pragma once

#include <boost/archive/binary_iarchive.hpp>
#include <boost/archive/binary_oarchive.hpp>
#include <sstream>
#include <string>

#include "engine/communicator.hpp"

namespace omniseg::engine {

/// Bytes of a serializable value (a type with a Boost.Serialization `serialize`).
template <class T>
std::string to_archive(const T& value) {
  std::ostringstream out(std::ios::binary);
  {
    boost::archive::binary_oarchive archive(out);
    archive << value;
  }
  return std::move(out).str();
}

template <class T>
T from_archive(const std::string& bytes) {
  std::istringstream in(bytes, std::ios::binary);
  boost::archive::binary_iarchive archive(in);
  T value;
  archive >> value;
  return value;
}

/// Collective. Every rank's `value` becomes a copy of root's.
template <class T>
void broadcast_serialized(const Communicator& comm, T& value, int root = 0) {
  std::string bytes;
  if (comm.rank() == root) bytes = to_archive(value);
  comm.broadcast(bytes, root);
  if (comm.rank() != root) value = from_archive<T>(bytes);
}

}  // namespace omniseg::engine
