// engine/datatype.hpp — how a C++ element type travels through the communicator.
//
// Owns: the mapping from a C++ type to a transport description (a fixed-width scalar kind that
// MPI can reduce, or opaque bytes). Does not own: any MPI handle; the MPI side of the mapping is
// private to engine/communicator.cpp, so this header compiles without <mpi.h>.
#pragma once

#include <concepts>
#include <cstddef>
#include <ranges>
#include <cstdint>
#include <type_traits>

namespace omniseg::engine {

/// The scalar kinds the communicator can move and reduce. `bytes` is for any other trivially
/// copyable type: it travels as raw bytes and cannot be reduced.
enum class ScalarKind : std::uint8_t {
  int8, uint8, int16, uint16, int32, uint32, int64, uint64, float32, float64, bytes
};

/// A type the communicator can reduce element-wise (sum, min, max, ...).
template <class T>
concept Reducible = std::is_arithmetic_v<T> && !std::is_same_v<T, bool> &&
                    (std::is_integral_v<T> || sizeof(T) == 4 || sizeof(T) == 8);

/// A type the communicator can send: anything trivially copyable.
template <class T>
concept Transportable = std::is_trivially_copyable_v<T>;

/// One value to send (not a range and not a pointer, which would travel as an address).
template <class T>
concept TransportableValue = Transportable<T> && !std::ranges::range<T> && !std::is_pointer_v<T>;

/// Contiguous storage of transportable elements: std::vector, std::array, std::span, ...
template <class R>
concept TransportableRange = std::ranges::contiguous_range<R> && std::ranges::sized_range<R> &&
                             Transportable<std::ranges::range_value_t<R>>;

template <class R>
using range_element_t = std::remove_cv_t<std::ranges::range_value_t<R>>;

/// Element type descriptor handed to the non-template implementation.
struct Datatype {
  ScalarKind kind;
  std::size_t size_bytes;  ///< sizeof one element
};

template <Transportable T>
constexpr Datatype datatype_of() {
  if constexpr (Reducible<T>) {
    if constexpr (std::is_floating_point_v<T>) {
      return {sizeof(T) == 4 ? ScalarKind::float32 : ScalarKind::float64, sizeof(T)};
    } else {
      constexpr bool is_signed = std::is_signed_v<T>;
      constexpr ScalarKind kind = sizeof(T) == 1   ? (is_signed ? ScalarKind::int8 : ScalarKind::uint8)
                                  : sizeof(T) == 2 ? (is_signed ? ScalarKind::int16 : ScalarKind::uint16)
                                  : sizeof(T) == 4 ? (is_signed ? ScalarKind::int32 : ScalarKind::uint32)
                                                   : (is_signed ? ScalarKind::int64 : ScalarKind::uint64);
      static_assert(sizeof(T) <= 8, "integers wider than 64 bits travel as bytes");
      return {kind, sizeof(T)};
    }
  } else {
    return {ScalarKind::bytes, sizeof(T)};
  }
}

/// Element-wise reduction operators.
enum class ReduceOp : std::uint8_t { sum, prod, min, max, logical_and, logical_or, bit_and, bit_or, bit_xor };

}  // namespace omniseg::engine
