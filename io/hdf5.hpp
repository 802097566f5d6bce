// io/hdf5.hpp — parallel HDF5 files: RAII ids, collective row-sharded datasets, strings, attributes
// and atomically created result/checkpoint files.
//
// Owns: the ownership of every HDF5 id (a movable, non-copyable handle per id kind); turning a failed
// HDF5 call into an Hdf5Error that names the operation, the file, the object and HDF5's error stack;
// files opened through the MPI-IO driver on an engine::Communicator; collective writes of datasets
// whose rows are sharded over the ranks (offsets from an exclusive scan of the local row counts);
// collective reads of any row block, with type conversion; fixed-length string datasets; numeric and
// string attributes; the temp-file/`complete`/rename protocol for files that must appear whole or
// not at all; and, for files that ask for it (FileOptions), large datasets whose rows each rank
// writes itself around the page cache (io/range_writer.hpp) into storage HDF5 allocated.
// Does not own: what goes into a file (dataset names and layout belong to the stages that write them,
// documented in docs/), ragged (CSR) data, and any MPI call of its own (only the MPI-IO file-access
// property, in hdf5_file.cpp, touches the raw communicator).
//
// Every member of File is collective over the file's communicator unless its comment says otherwise:
// all ranks call it in the same order with the same paths and names. Row data and row ranges may
// differ per rank (a rank may hold zero rows: it still calls). Arguments that must agree (columns,
// element type, attribute values) are checked across ranks, so a mismatch is an Hdf5Error on every
// rank rather than a hang or a silently wrong file.
#pragma once

#include <hdf5.h>

#include <concepts>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <ranges>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "engine/block_distribution.hpp"
#include "engine/communicator.hpp"
#include "engine/errors.hpp"
#include "io/range_writer.hpp"

namespace omniseg::io {

/// A failed HDF5 operation, or a file whose content is not what the caller needs (missing object,
/// wrong rank, wrong element type). The message names the operation, the file and the object path,
/// and for failed HDF5 calls includes HDF5's error stack.
class Hdf5Error : public Error {
 public:
  using Error::Error;
};

// ---- RAII ownership of HDF5 ids -------------------------------------------------------------------

/// The close function of one kind of HDF5 id (H5Fclose, H5Dclose, ...).
using Hdf5CloseFunction = herr_t (*)(hid_t);

/// Owns one HDF5 id and closes it with `Close` when it dies. Movable, not copyable. Ids of HDF5's
/// predefined types (H5T_NATIVE_DOUBLE, ...) and H5P_DEFAULT are never owned.
template <Hdf5CloseFunction Close>
class OwnedHdf5Id {
 public:
  OwnedHdf5Id() = default;
  /// Takes ownership of `id` (a negative id is held as "nothing").
  explicit OwnedHdf5Id(hid_t id) : id_(id) {}
  OwnedHdf5Id(OwnedHdf5Id&& other) noexcept : id_(std::exchange(other.id_, H5I_INVALID_HID)) {}
  OwnedHdf5Id& operator=(OwnedHdf5Id&& other) noexcept {
    if (this != &other) {
      close();
      id_ = std::exchange(other.id_, H5I_INVALID_HID);
    }
    return *this;
  }
  OwnedHdf5Id(const OwnedHdf5Id&) = delete;
  OwnedHdf5Id& operator=(const OwnedHdf5Id&) = delete;
  ~OwnedHdf5Id() { close(); }

  [[nodiscard]] hid_t get() const { return id_; }
  [[nodiscard]] bool valid() const { return id_ >= 0; }
  explicit operator bool() const { return valid(); }

  /// Closes the id now. Returns the close function's status (negative on failure), 0 when nothing
  /// was held. Never throws: callers that must know check the status.
  herr_t close() noexcept {
    if (!valid()) return 0;
    return Close(std::exchange(id_, H5I_INVALID_HID));
  }
  /// Gives up ownership without closing.
  [[nodiscard]] hid_t release() noexcept { return std::exchange(id_, H5I_INVALID_HID); }

 private:
  hid_t id_ = H5I_INVALID_HID;
};

using FileId = OwnedHdf5Id<&H5Fclose>;
using GroupId = OwnedHdf5Id<&H5Gclose>;
using DatasetId = OwnedHdf5Id<&H5Dclose>;
using DataspaceId = OwnedHdf5Id<&H5Sclose>;
using DatatypeId = OwnedHdf5Id<&H5Tclose>;
using PropertyListId = OwnedHdf5Id<&H5Pclose>;
using AttributeId = OwnedHdf5Id<&H5Aclose>;
using ObjectId = OwnedHdf5Id<&H5Oclose>;  ///< a group, dataset or named datatype opened by path

// ---- checked calls -------------------------------------------------------------------------------

/// Where an HDF5 call acted, for error messages. `object` may be empty (file-level operations).
struct Hdf5Location {
  std::string_view file;
  std::string_view object;
};

/// Not collective: whether closing a file failed in this process (e.g. the disk filled up while it
/// was written). HDF5 1.10 then keeps a half-destroyed file id that its own clean-up at
/// MPI shutdown would touch and crash on, so the process should end without shutting MPI down.
[[nodiscard]] bool file_close_failed();

/// Turns off HDF5's automatic printing of error stacks to stderr (errors become Hdf5Error
/// instead). Idempotent; File::create and File::open_read call it. Not collective.
void silence_hdf5_error_printing();

/// HDF5's current error stack of this thread as text, one line per entry from the API call down to
/// where the error was detected; empty when the stack is empty. Clears the stack. Not collective.
[[nodiscard]] std::string take_hdf5_error_stack();

/// Throws Hdf5Error "HDF5: <operation> failed (file '<file>', object '<object>'): <stack>".
/// Call it right after the failed call: any further HDF5 call clears the stack. Not collective.
[[noreturn]] void throw_hdf5_error(std::string_view operation, const Hdf5Location& where);

/// Returns `result` (an id, herr_t or htri_t) if it is non-negative, else throws as above.
template <std::signed_integral Result>
Result checked(Result result, std::string_view operation, const Hdf5Location& where) {
  if (result < 0) throw_hdf5_error(operation, where);
  return result;
}

// ---- element types and dataset shapes ------------------------------------------------------------

/// What a dataset or attribute stores per element.
enum class ElementType : std::uint8_t {
  int8, uint8, int16, uint16, int32, uint32, int64, uint64, float32, float64,
  fixed_string,     ///< fixed-length strings (what omniseg writes)
  variable_string,  ///< variable-length strings (h5py's default; readable, never written here)
  other             ///< compound, enum, array, ... : not readable through this layer
};

/// "int32", "float64", "fixed_string", ...
[[nodiscard]] std::string_view to_string(ElementType type);
[[nodiscard]] constexpr bool is_numeric(ElementType type) {
  return type != ElementType::fixed_string && type != ElementType::variable_string &&
         type != ElementType::other;
}

/// The element types row data can be written and read as: 32- and 64-bit integers (signed or not)
/// and float/double. Matched by width and signedness, so `long` and `long long` both count as int64.
template <class T>
concept Hdf5Number = std::is_arithmetic_v<T> && !std::is_same_v<T, bool> &&
                     ((std::is_integral_v<T> && (sizeof(T) == 4 || sizeof(T) == 8)) ||
                      std::is_same_v<T, float> || std::is_same_v<T, double>);

/// Contiguous storage of Hdf5Number elements: std::vector, std::array, std::span, ...
template <class R>
concept Hdf5NumberRange = std::ranges::contiguous_range<R> && std::ranges::sized_range<R> &&
                          Hdf5Number<std::remove_cv_t<std::ranges::range_value_t<R>>>;

template <Hdf5NumberRange R>
using range_number_t = std::remove_cv_t<std::ranges::range_value_t<R>>;

template <Hdf5Number T>
constexpr ElementType element_type_of() {
  if constexpr (std::is_same_v<T, float>) {
    return ElementType::float32;
  } else if constexpr (std::is_same_v<T, double>) {
    return ElementType::float64;
  } else if constexpr (sizeof(T) == 4) {
    return std::is_signed_v<T> ? ElementType::int32 : ElementType::uint32;
  } else {
    return std::is_signed_v<T> ? ElementType::int64 : ElementType::uint64;
  }
}

/// Shape and element type of a stored dataset.
struct DatasetInfo {
  std::vector<std::uint64_t> dims;  ///< empty for a scalar dataset
  ElementType element_type = ElementType::other;
  std::uint64_t element_size_bytes = 0;  ///< for fixed strings: the string width

  [[nodiscard]] int rank() const { return static_cast<int>(dims.size()); }
  /// dims[0] (1 for a scalar dataset).
  [[nodiscard]] std::uint64_t rows() const { return dims.empty() ? 1 : dims[0]; }
  /// dims[1] for a 2-D dataset, 1 for 1-D and scalar datasets.
  [[nodiscard]] std::uint64_t columns() const { return dims.size() >= 2 ? dims[1] : 1; }
};

// ---- write options and reports -------------------------------------------------------------------

/// How a written dataset is laid out in the file.
enum class Layout : std::uint8_t {
  /// One contiguous block of fixed size (the default): the cheapest collective write and read, and
  /// no chunk index for readers to walk.
  contiguous,
  /// Chunks of whole rows, at most `max_chunk_bytes` each (a single row wider than that is split
  /// into column chunks), with an unlimited row dimension, so the dataset can later be extended.
  chunked,
};

/// Upper bound on the size of one chunk of a chunked dataset.
inline constexpr std::uint64_t max_chunk_bytes = std::uint64_t{1} << 20;

struct WriteOptions {
  Layout layout = Layout::contiguous;
};

struct FileOptions {
  /// Contiguous datasets it applies to (their elements stored as they lie in memory) are not handed
  /// to HDF5's collective transfer: each rank writes its own rows straight into the storage HDF5
  /// allocated, with io::RangeWriter around the page cache. HDF5 still writes the metadata and every
  /// other dataset. For files read back rarely or elsewhere (checkpoints, batch results).
  PageCacheBypass page_cache_bypass;
};

/// What HDF5 reports it actually did for a collective transfer (H5Pget_mpio_actual_io_mode).
enum class CollectiveIoMode : std::uint8_t {
  none,                   ///< HDF5 fell back to independent I/O (see the no-collective causes)
  chunk_independent,      ///< chunked dataset, each chunk written independently
  chunk_collective,       ///< chunked dataset, chunks written collectively
  chunk_mixed,            ///< chunked dataset, some chunks each way
  contiguous_collective,  ///< contiguous dataset written collectively
  uncached,               ///< contiguous dataset each rank wrote itself around the page cache (FileOptions)
};

/// "none", "contiguous_collective", ...
[[nodiscard]] std::string_view to_string(CollectiveIoMode mode);

/// What one rank's collective write did. A dataset with no elements at all has no storage and is
/// not written (HDF5 1.10 fails a collective write to it): its io_mode is `none`.
struct WriteReport {
  std::uint64_t global_rows = 0;                      ///< rows of the whole dataset
  std::uint64_t first_row = 0;                        ///< global index of this rank's first row
  std::uint64_t local_rows = 0;                       ///< rows this rank wrote
  CollectiveIoMode io_mode = CollectiveIoMode::none;  ///< as HDF5 reports it on this rank
  /// H5D_MPIO_* bit masks of why HDF5 did not do collective I/O (0: it did), on this rank and on
  /// any rank.
  std::uint32_t local_no_collective_cause = 0;
  std::uint32_t global_no_collective_cause = 0;

  /// Whether HDF5 did collective I/O (an uncached write is not a collective transfer).
  [[nodiscard]] bool collective() const {
    return io_mode != CollectiveIoMode::none && io_mode != CollectiveIoMode::uncached;
  }
};

/// Name of the root-group attribute that marks a file written completely (value 1).
inline constexpr std::string_view complete_attribute_name = "complete";

// ---- files ---------------------------------------------------------------------------------------

/// An HDF5 file opened by every rank of a communicator through the MPI-IO driver. Movable, not
/// copyable; the communicator must outlive it. Closing (explicitly or by the destructor) is
/// collective. Object paths are absolute ("/fim/items") or relative to the root group.
class File {
 public:
  /// Collective. Creates `path` (truncating an existing file) for writing. Fails, naming the path,
  /// when the file cannot be created (e.g. a missing directory).
  [[nodiscard]] static File create(const engine::Communicator& comm, const std::filesystem::path& path,
                                   const FileOptions& options = {});
  /// Collective. Opens an existing file read-only. A missing or non-HDF5 file is an error naming
  /// the path.
  [[nodiscard]] static File open_read(const engine::Communicator& comm, const std::filesystem::path& path);

  File(File&& other) noexcept;
  File& operator=(File&& other) noexcept;
  File(const File&) = delete;
  File& operator=(const File&) = delete;
  /// Closes the file if still open, ignoring errors (call close() to see them). Collective: when a
  /// File dies during an exception on one rank only, agree on the failure first
  /// (engine::collectively), or the other ranks never join the close.
  ~File();

  /// Collective. Closes any object of this file that is still open (every member closes what it
  /// opens, so normally none), then the file: parallel HDF5 refuses to close a file with open
  /// children. Idempotent.
  void close();

  [[nodiscard]] bool is_open() const { return id_.valid(); }
  /// The path as given to create/open_read. Not collective.
  [[nodiscard]] const std::string& path() const { return path_; }
  [[nodiscard]] const engine::Communicator& communicator() const { return *comm_; }
  /// The raw file id, for calls this layer does not wrap; still owned by the File. Not collective.
  [[nodiscard]] hid_t id() const { return id_.get(); }
  /// As given to create (defaults for a file opened to read). Not collective.
  [[nodiscard]] const FileOptions& options() const { return options_; }

  // ---- structure ----
  /// Creates the group and any missing parent groups; existing groups are fine.
  void create_groups(std::string_view group_path);
  /// True if every component of `object_path` exists ("/" always does).
  [[nodiscard]] bool exists(std::string_view object_path) const;
  /// Shape and stored element type. Errors name the file and dataset when it is missing or not a
  /// dataset.
  [[nodiscard]] DatasetInfo dataset_info(std::string_view dataset_path) const;

  // ---- numeric row data: writes ----
  // Each rank passes its own rows, which follow those of the ranks before it: rank r's first row is
  // the sum of the row counts of ranks 0..r-1. The dataset gets the global shape, is created with
  // any missing parent groups, and must not exist yet. A rank with no rows passes an empty range.
  // Element type and columns must be the same on every rank. Elements are stored as little-endian
  // standard types of T's width. One rank's part of one write should stay below 2 GiB: some MPI-IO
  // versions count a rank's bytes in a C int (not split here).

  /// 1-D dataset [global_rows] from `local_values` (one value per row).
  template <Hdf5NumberRange R>
  WriteReport write_vector_rows(std::string_view dataset_path, const R& local_values,
                                const WriteOptions& options = {}) {
    return write_rows_erased(dataset_path, std::ranges::data(local_values), std::ranges::size(local_values),
                             1, 1, element_type_of<range_number_t<R>>(), options);
  }
  /// 2-D dataset [global_rows x columns] from row-major `local_values` (a multiple of `columns`
  /// values; columns >= 1).
  template <Hdf5NumberRange R>
  WriteReport write_matrix_rows(std::string_view dataset_path, const R& local_values, std::uint64_t columns,
                                const WriteOptions& options = {}) {
    return write_rows_erased(dataset_path, std::ranges::data(local_values), std::ranges::size(local_values),
                             2, columns, element_type_of<range_number_t<R>>(), options);
  }
  /// A small 1-D dataset that rank 0 alone provides (centroids, result arrays). Other ranks still
  /// call; their `values` are ignored (pass an empty range).
  template <Hdf5NumberRange R>
  WriteReport write_root_vector(std::string_view dataset_path, const R& values,
                                const WriteOptions& options = {}) {
    return write_rows_erased(dataset_path, std::ranges::data(values), root_count(std::ranges::size(values)),
                             1, 1, element_type_of<range_number_t<R>>(), options);
  }
  /// A small 2-D dataset [values / columns x columns] that rank 0 alone provides; `columns` must
  /// agree on every rank, other ranks' `values` are ignored.
  template <Hdf5NumberRange R>
  WriteReport write_root_matrix(std::string_view dataset_path, const R& values, std::uint64_t columns,
                                const WriteOptions& options = {}) {
    return write_rows_erased(dataset_path, std::ranges::data(values), root_count(std::ranges::size(values)),
                             2, columns, element_type_of<range_number_t<R>>(), options);
  }

  // ---- numeric row data: reads ----
  // Rows may be any range [begin, end) within the dataset, different on every rank (empty is fine),
  // and need not match how the dataset was written. Stored values are converted to T (float32 read
  // as double, int32 as int64, ...; HDF5 clamps values that do not fit). Errors name the file and
  // dataset: missing dataset, wrong rank, a non-numeric element type, rows out of range.

  /// Rows [rows.begin, rows.end) of a 1-D dataset.
  template <Hdf5Number T>
  [[nodiscard]] std::vector<T> read_vector_rows(std::string_view dataset_path, engine::RowRange rows) const {
    std::vector<T> values;
    read_rows_erased(dataset_path, rows, 1, element_type_of<T>(), [&values](std::uint64_t count) {
      values.resize(count);
      return static_cast<void*>(values.data());
    });
    return values;
  }
  /// Rows [rows.begin, rows.end) of a 2-D dataset, row-major (rows.size() x columns values).
  template <Hdf5Number T>
  [[nodiscard]] std::vector<T> read_matrix_rows(std::string_view dataset_path, engine::RowRange rows) const {
    std::vector<T> values;
    read_rows_erased(dataset_path, rows, 2, element_type_of<T>(), [&values](std::uint64_t count) {
      values.resize(count);
      return static_cast<void*>(values.data());
    });
    return values;
  }
  /// A whole 1-D dataset, on every rank.
  template <Hdf5Number T>
  [[nodiscard]] std::vector<T> read_vector(std::string_view dataset_path) const {
    return read_vector_rows<T>(dataset_path, {0, dataset_info(dataset_path).rows()});
  }
  /// A whole 2-D dataset, row-major, on every rank.
  template <Hdf5Number T>
  [[nodiscard]] std::vector<T> read_matrix(std::string_view dataset_path) const {
    return read_matrix_rows<T>(dataset_path, {0, dataset_info(dataset_path).rows()});
  }

  // ---- strings ----
  // Written as 1-D fixed-length UTF-8 strings (null-padded, width = the longest string, at least 1):
  // variable-length strings cannot be written in parallel. Strings must not contain '\0'.

  /// Each rank passes its own rows of a 1-D string dataset, as for write_vector_rows.
  WriteReport write_string_rows(std::string_view dataset_path, std::span<const std::string> local_strings);
  /// A 1-D string dataset that rank 0 alone provides; other ranks' `strings` are ignored.
  WriteReport write_root_strings(std::string_view dataset_path, std::span<const std::string> strings);
  /// Rows [rows.begin, rows.end) of a 1-D string dataset (fixed- or variable-length).
  [[nodiscard]] std::vector<std::string> read_string_rows(std::string_view dataset_path,
                                                          engine::RowRange rows) const;
  /// A whole 1-D string dataset, on every rank.
  [[nodiscard]] std::vector<std::string> read_strings(std::string_view dataset_path) const;

  // ---- attributes ----
  // On any existing object ("/" for the root group, a group or a dataset). A write replaces an
  // attribute of the same name. Attribute writes are collective metadata operations in parallel
  // HDF5: every rank must pass the same value (HDF5 would silently keep one rank's value). This
  // layer checks that and throws Hdf5Error on every rank on a mismatch. Strings are stored
  // fixed-length, null-padded, UTF-8.

  void write_int_attribute(std::string_view object_path, std::string_view name, std::int64_t value);
  void write_double_attribute(std::string_view object_path, std::string_view name, double value);
  void write_string_attribute(std::string_view object_path, std::string_view name, std::string_view value);
  [[nodiscard]] bool has_attribute(std::string_view object_path, std::string_view name) const;
  /// An integer attribute (any stored integer width). A missing attribute or a non-integer one is
  /// an error naming file, object and attribute.
  [[nodiscard]] std::int64_t read_int_attribute(std::string_view object_path, std::string_view name) const;
  /// A numeric attribute (integer or floating point) as double.
  [[nodiscard]] double read_double_attribute(std::string_view object_path, std::string_view name) const;
  /// A string attribute (fixed- or variable-length).
  [[nodiscard]] std::string read_string_attribute(std::string_view object_path, std::string_view name) const;

  /// True when the root group carries `complete` = 1 (see write_file_atomically).
  [[nodiscard]] bool is_complete() const;

 private:
  File(const engine::Communicator& comm, std::string path, FileId id, const FileOptions& options);

  /// The collective write behind every row-sharded dataset: this rank's `local_rows` rows of
  /// `columns` elements (rank 1: columns == 1) at `memory` in `memory_type`, stored as `file_type`.
  /// The shape must already be agreed across ranks.
  WriteReport write_agreed_rows(std::string_view dataset_path, const void* memory, std::uint64_t local_rows,
                                int rank, std::uint64_t columns, hid_t file_type, hid_t memory_type, Layout layout);
  /// This rank's rows of the just created `dataset` (storage allocated) written at their place in
  /// the file by uncached_; failures on any rank throw on every rank.
  void write_rows_uncached(hid_t dataset, const WriteReport& rows, std::uint64_t row_bytes, const void* memory,
                           const Hdf5Location& where);

  /// `rank` 1 (columns == 1) or 2; checks across ranks that columns and type agree.
  WriteReport write_rows_erased(std::string_view dataset_path, const void* local_values,
                                std::uint64_t value_count, int rank, std::uint64_t columns, ElementType type,
                                const WriteOptions& options);
  /// Rank 0's value count; 0 elsewhere (their values are ignored).
  [[nodiscard]] std::uint64_t root_count(std::uint64_t count) const { return comm_->is_root() ? count : 0; }
  /// `allocate(n)` returns room for n elements of `type`; called once, possibly with 0.
  void read_rows_erased(std::string_view dataset_path, engine::RowRange rows, int required_rank,
                        ElementType type, const std::function<void*(std::uint64_t)>& allocate) const;

  [[nodiscard]] Hdf5Location at(std::string_view object) const { return {path_, object}; }

  const engine::Communicator* comm_ = nullptr;
  std::string path_;
  FileId id_;
  FileOptions options_;
  std::unique_ptr<RangeWriter> uncached_;  ///< opened by the first uncached write of this rank
};

// ---- atomic files --------------------------------------------------------------------------------

/// The temporary name write_file_atomically writes to: "<final_path>.tmp", in the same directory
/// (a rename within one file system is atomic).
[[nodiscard]] std::filesystem::path temporary_path_for(const std::filesystem::path& final_path);

/// Collective. Creates a file that appears at `final_path` whole or not at all: creates the
/// temporary file, runs `write_contents` on it, sets the root attribute `complete` = 1 last, closes
/// on all ranks, then rank 0 renames it to `final_path` (replacing an older file) and all ranks
/// learn the outcome before returning. If `write_contents` throws on any rank, every rank throws
/// the same engine::CollectiveError (engine::collectively), the temporary file is removed and
/// `final_path` is left as it was.
/// `options` are the temporary file's (File::create).
void write_file_atomically(const engine::Communicator& comm, const std::filesystem::path& final_path,
                           const std::function<void(File&)>& write_contents, const FileOptions& options = {});

}  // namespace omniseg::io
