// The parallel HDF5 layer (see io/hdf5.hpp). This is the one file outside engine/ that sees the raw
// MPI communicator: the MPI-IO file-access property needs it.
#include "io/hdf5.hpp"

#include <algorithm>
#include <atomic>
#include <array>
#include <bit>
#include <cstring>
#include <optional>
#include <system_error>

#include "engine/error_agreement.hpp"
#include "engine/mpi_handle.hpp"
#include "io/range_writer.hpp"

namespace omniseg::io {
namespace {

std::string in_quotes(std::string_view text) { return "'" + std::string(text) + "'"; }

/// "file '<file>', object '<object>'" (the object part only when there is one).
std::string describe(const Hdf5Location& where) {
  std::string text = "file " + in_quotes(where.file);
  if (!where.object.empty()) text += ", object " + in_quotes(where.object);
  return text;
}

/// An error about a file's content or a caller's arguments (no HDF5 call failed).
[[noreturn]] void fail(const Hdf5Location& where, const std::string& problem) {
  throw Hdf5Error("HDF5 " + describe(where) + ": " + problem);
}

/// Adds one entry of an HDF5 error stack to the std::string behind `client`.
herr_t append_error_entry(unsigned index, const H5E_error2_t* entry, void* client) {
  try {
    auto& text = *static_cast<std::string*>(client);
    std::array<char, 128> major{}, minor{};
    // H5Eget_msg does not clear the stack being walked (it is a copy anyway).
    if (H5Eget_msg(entry->maj_num, nullptr, major.data(), major.size()) < 0) major[0] = '\0';
    if (H5Eget_msg(entry->min_num, nullptr, minor.data(), minor.size()) < 0) minor[0] = '\0';
    text += "\n  #" + std::to_string(index) + " " + (entry->func_name ? entry->func_name : "?") +
            "(): " + (entry->desc ? entry->desc : "") + " [" + major.data() + ": " + minor.data() + "] (" +
            (entry->file_name ? entry->file_name : "?") + ":" + std::to_string(entry->line) + ")";
    return 0;
  } catch (const std::exception&) {
    return -1;  // out of memory: stop the walk, keep what we have
  }
}

// ---- element types -------------------------------------------------------------------------------

/// HDF5's native (in-memory) type of a numeric element type. Predefined: never closed.
hid_t memory_type_of(ElementType type) {
  switch (type) {
    case ElementType::int8: return H5T_NATIVE_INT8;
    case ElementType::uint8: return H5T_NATIVE_UINT8;
    case ElementType::int16: return H5T_NATIVE_INT16;
    case ElementType::uint16: return H5T_NATIVE_UINT16;
    case ElementType::int32: return H5T_NATIVE_INT32;
    case ElementType::uint32: return H5T_NATIVE_UINT32;
    case ElementType::int64: return H5T_NATIVE_INT64;
    case ElementType::uint64: return H5T_NATIVE_UINT64;
    case ElementType::float32: return H5T_NATIVE_FLOAT;
    case ElementType::float64: return H5T_NATIVE_DOUBLE;
    default: throw std::logic_error("memory_type_of: not a numeric element type");
  }
}

/// The type a numeric element is stored as: little-endian standard types, so files read the same
/// on any machine (and need no conversion on this one, which keeps writes collective).
hid_t file_type_of(ElementType type) {
  switch (type) {
    case ElementType::int8: return H5T_STD_I8LE;
    case ElementType::uint8: return H5T_STD_U8LE;
    case ElementType::int16: return H5T_STD_I16LE;
    case ElementType::uint16: return H5T_STD_U16LE;
    case ElementType::int32: return H5T_STD_I32LE;
    case ElementType::uint32: return H5T_STD_U32LE;
    case ElementType::int64: return H5T_STD_I64LE;
    case ElementType::uint64: return H5T_STD_U64LE;
    case ElementType::float32: return H5T_IEEE_F32LE;
    case ElementType::float64: return H5T_IEEE_F64LE;
    default: throw std::logic_error("file_type_of: not a numeric element type");
  }
}

ElementType classify(hid_t type, const Hdf5Location& where) {
  const std::size_t size = H5Tget_size(type);
  switch (H5Tget_class(type)) {
    case H5T_INTEGER: {
      const H5T_sign_t sign = H5Tget_sign(type);
      if (sign == H5T_SGN_ERROR) throw_hdf5_error("get integer sign", where);
      const bool is_signed = sign == H5T_SGN_2;
      switch (size) {
        case 1: return is_signed ? ElementType::int8 : ElementType::uint8;
        case 2: return is_signed ? ElementType::int16 : ElementType::uint16;
        case 4: return is_signed ? ElementType::int32 : ElementType::uint32;
        case 8: return is_signed ? ElementType::int64 : ElementType::uint64;
        default: return ElementType::other;
      }
    }
    case H5T_FLOAT:
      return size == 4 ? ElementType::float32 : size == 8 ? ElementType::float64 : ElementType::other;
    case H5T_STRING:
      return checked(H5Tis_variable_str(type), "check string kind", where) > 0 ? ElementType::variable_string
                                                                               : ElementType::fixed_string;
    case H5T_NO_CLASS: throw_hdf5_error("get datatype class", where);
    default: return ElementType::other;
  }
}

/// A fixed-length, null-padded UTF-8 string type of `width` bytes (width >= 1).
DatatypeId fixed_string_type(std::uint64_t width, const Hdf5Location& where) {
  DatatypeId type{checked(H5Tcopy(H5T_C_S1), "copy string type", where)};
  checked(H5Tset_size(type.get(), width), "set string width", where);
  // Null padding needs no terminator, so a string exactly `width` long is stored whole.
  checked(H5Tset_strpad(type.get(), H5T_STR_NULLPAD), "set string padding", where);
  checked(H5Tset_cset(type.get(), H5T_CSET_UTF8), "set string character set", where);
  return type;
}

/// A string of one fixed-length element: up to the first '\0' (null-terminated or null-padded) or
/// without trailing blanks (space-padded).
std::string trimmed_fixed_string(const char* chars, std::size_t width, H5T_str_t padding) {
  std::string_view text(chars, width);
  if (padding == H5T_STR_SPACEPAD) {
    const auto end = text.find_last_not_of(' ');
    return std::string(end == std::string_view::npos ? std::string_view{} : text.substr(0, end + 1));
  }
  return std::string(text.substr(0, text.find('\0')));
}

// ---- objects -------------------------------------------------------------------------------------

/// The components of an object path ("/fim/items" -> "fim", "items").
std::vector<std::string> path_components(std::string_view path) {
  std::vector<std::string> components;
  std::size_t start = 0;
  while (start <= path.size()) {
    const std::size_t slash = std::min(path.find('/', start), path.size());
    if (slash > start) components.emplace_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  return components;
}

ObjectId open_object(const File& file, std::string_view object_path) {
  const Hdf5Location where{file.path(), object_path};
  if (!file.exists(object_path)) fail(where, "no such object");
  const std::string name(object_path.empty() ? "/" : object_path);
  return ObjectId{checked(H5Oopen(file.id(), name.c_str(), H5P_DEFAULT), "open object", where)};
}

DatasetId open_dataset(const File& file, std::string_view dataset_path) {
  const Hdf5Location where{file.path(), dataset_path};
  if (!file.exists(dataset_path)) fail(where, "no such dataset");
  const std::string name(dataset_path);
  return DatasetId{checked(H5Dopen2(file.id(), name.c_str(), H5P_DEFAULT), "open dataset", where)};
}

DatasetInfo info_of(hid_t dataset, const Hdf5Location& where) {
  DataspaceId space{checked(H5Dget_space(dataset), "get dataspace", where)};
  const int rank = checked(H5Sget_simple_extent_ndims(space.get()), "get rank", where);
  std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
  checked(H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr), "get dimensions", where);
  DatatypeId type{checked(H5Dget_type(dataset), "get datatype", where)};
  DatasetInfo info;
  info.dims.assign(dims.begin(), dims.end());
  info.element_type = classify(type.get(), where);
  info.element_size_bytes = H5Tget_size(type.get());
  return info;
}

/// A transfer property list asking for collective MPI-IO.
PropertyListId collective_transfer(const Hdf5Location& where) {
  PropertyListId transfer{checked(H5Pcreate(H5P_DATASET_XFER), "create transfer property list", where)};
  checked(H5Pset_dxpl_mpio(transfer.get(), H5FD_MPIO_COLLECTIVE), "request collective transfer", where);
  return transfer;
}

/// The file and memory dataspaces of one rank's row block [begin, begin + rows) of a dataset with
/// `dims` (rank 1 or 2). A rank with nothing to move selects nothing in both, but still takes part.
struct RowSelection {
  DataspaceId file_space;
  DataspaceId memory_space;
};

RowSelection select_rows(DataspaceId file_space, std::span<const std::uint64_t> dims, std::uint64_t first_row,
                         std::uint64_t rows, const Hdf5Location& where) {
  const int rank = static_cast<int>(dims.size());
  const std::uint64_t columns = rank == 2 ? dims[1] : 1;
  const std::array<hsize_t, 2> start{first_row, 0};
  const std::array<hsize_t, 2> count{rows, columns};
  RowSelection selection{std::move(file_space), DataspaceId{}};
  selection.memory_space =
      DataspaceId{checked(H5Screate_simple(rank, count.data(), nullptr), "create memory dataspace", where)};
  if (rows * columns == 0) {
    checked(H5Sselect_none(selection.file_space.get()), "select nothing in the file", where);
    checked(H5Sselect_none(selection.memory_space.get()), "select nothing in memory", where);
  } else {
    checked(H5Sselect_hyperslab(selection.file_space.get(), H5S_SELECT_SET, start.data(), nullptr,
                                count.data(), nullptr),
            "select rows in the file", where);
  }
  return selection;
}

/// Checks that every rank's row range lies within `rows` rows; a bad range on any rank is an error
/// on every rank (a rank that threw alone would leave the others in the collective read).
void check_row_ranges(const File& file, engine::RowRange range, std::uint64_t rows,
                      const Hdf5Location& where) {
  const bool in_range = range.begin <= range.end && range.end <= rows;
  if (file.communicator().all_of(in_range)) return;
  if (in_range) {
    fail(where, "another rank asked for rows outside the dataset's " + std::to_string(rows) + " rows");
  }
  fail(where, "rows [" + std::to_string(range.begin) + ", " + std::to_string(range.end) +
                  ") are outside the dataset's " + std::to_string(rows) + " rows");
}

CollectiveIoMode io_mode_from(H5D_mpio_actual_io_mode_t mode) {
  switch (mode) {
    case H5D_MPIO_NO_COLLECTIVE: return CollectiveIoMode::none;
    case H5D_MPIO_CHUNK_INDEPENDENT: return CollectiveIoMode::chunk_independent;
    case H5D_MPIO_CHUNK_COLLECTIVE: return CollectiveIoMode::chunk_collective;
    case H5D_MPIO_CHUNK_MIXED: return CollectiveIoMode::chunk_mixed;
    case H5D_MPIO_CONTIGUOUS_COLLECTIVE: return CollectiveIoMode::contiguous_collective;
  }
  return CollectiveIoMode::none;
}

/// Chunk shape for a dataset of `columns` columns of `element_bytes` bytes: whole rows, at most
/// max_chunk_bytes, no more rows than the dataset has (a 3-row dataset needs no 1 MiB chunk).
std::array<hsize_t, 2> chunk_dims_for(std::uint64_t global_rows, std::uint64_t columns,
                                      std::uint64_t element_bytes) {
  const std::uint64_t row_bytes = std::max<std::uint64_t>(columns * element_bytes, 1);
  if (row_bytes > max_chunk_bytes) {
    return {1, std::max<std::uint64_t>(max_chunk_bytes / element_bytes, 1)};
  }
  const std::uint64_t rows =
      std::clamp<std::uint64_t>(max_chunk_bytes / row_bytes, 1, std::max<std::uint64_t>(global_rows, 1));
  return {rows, columns};
}

/// Throws the same Hdf5Error on every rank when `local_failure` is not empty on some rank: the
/// message of the lowest such rank, naming it. A collective step that failed on some ranks only
/// (their part lay beyond a full disk or a file size limit) must not let the others go on into the
/// next collective call.
void agree_on_write_failure(const engine::Communicator& comm, std::string local_failure, std::string_view step,
                            const Hdf5Location& where) {
  const int first_failed = comm.allreduce(local_failure.empty() ? comm.size() : comm.rank(), engine::ReduceOp::min);
  if (first_failed == comm.size()) return;
  comm.broadcast(local_failure, first_failed);
  throw Hdf5Error(std::string(step) + " failed on rank " + std::to_string(first_failed) + " (" + describe(where) +
                  "): " + local_failure);
}

/// True on every rank iff `bytes` is the same on every rank.
bool same_on_every_rank(const engine::Communicator& comm, std::string_view bytes) {
  std::string root_bytes(bytes);
  comm.broadcast(root_bytes);
  return comm.all_of(root_bytes == bytes);
}

template <class T>
std::string_view bytes_of(const T& value) {
  return {reinterpret_cast<const char*>(&value), sizeof(T)};
}

void write_attribute(File& file, std::string_view object_path, std::string_view name, hid_t file_type,
                     hid_t memory_type, const void* value, std::string_view value_bytes) {
  const Hdf5Location where{file.path(), object_path};
  const std::string attribute_name(name);
  // HDF5 would silently keep one rank's value: catch the caller's bug here, on every rank.
  if (!same_on_every_rank(file.communicator(), value_bytes)) {
    fail(where, "attribute " + in_quotes(name) +
                    " has different values on different ranks (attribute writes are collective: every rank "
                    "must pass the same value)");
  }
  const auto object = open_object(file, object_path);
  const std::string operation = "write attribute " + in_quotes(name);
  if (checked(H5Aexists(object.get(), attribute_name.c_str()), operation, where) > 0) {
    checked(H5Adelete(object.get(), attribute_name.c_str()), operation, where);
  }
  DataspaceId scalar{checked(H5Screate(H5S_SCALAR), operation, where)};
  AttributeId attribute{checked(
      H5Acreate2(object.get(), attribute_name.c_str(), file_type, scalar.get(), H5P_DEFAULT, H5P_DEFAULT),
      operation, where)};
  checked(H5Awrite(attribute.get(), memory_type, value), operation, where);
}

/// An attribute holding one element, with its stored element type.
struct OpenedAttribute {
  AttributeId attribute;
  DatatypeId type;
  ElementType element_type;
};

OpenedAttribute open_attribute(const File& file, std::string_view object_path, std::string_view name) {
  const Hdf5Location where{file.path(), object_path};
  const auto object = open_object(file, object_path);
  const std::string attribute_name(name);
  const std::string operation = "open attribute " + in_quotes(name);
  if (checked(H5Aexists(object.get(), attribute_name.c_str()), operation, where) == 0) {
    fail(where, "no attribute " + in_quotes(name));
  }
  OpenedAttribute opened{
      AttributeId{checked(H5Aopen(object.get(), attribute_name.c_str(), H5P_DEFAULT), operation, where)},
      DatatypeId{}, ElementType::other};
  opened.type = DatatypeId{checked(H5Aget_type(opened.attribute.get()), operation, where)};
  opened.element_type = classify(opened.type.get(), where);
  DataspaceId space{checked(H5Aget_space(opened.attribute.get()), operation, where)};
  const auto elements = checked(H5Sget_simple_extent_npoints(space.get()), operation, where);
  if (elements != 1) {
    fail(where,
         "attribute " + in_quotes(name) + " holds " + std::to_string(elements) + " elements, expected one");
  }
  return opened;
}

/// Closes every object of `file` still open (datasets, groups, named datatypes, attributes).
void close_open_children(hid_t file) {
  constexpr unsigned kinds =
      H5F_OBJ_DATASET | H5F_OBJ_GROUP | H5F_OBJ_DATATYPE | H5F_OBJ_ATTR | H5F_OBJ_LOCAL;
  const ssize_t count = H5Fget_obj_count(file, kinds);
  if (count <= 0) return;
  std::vector<hid_t> ids(static_cast<std::size_t>(count));
  const ssize_t found = H5Fget_obj_ids(file, kinds, ids.size(), ids.data());
  for (ssize_t i = 0; i < found; ++i) {
    const hid_t id = ids[static_cast<std::size_t>(i)];
    if (H5Iget_type(id) == H5I_ATTR) {
      H5Aclose(id);
    } else {
      H5Oclose(id);
    }
  }
}

/// File access through MPI-IO on `comm`. HDF5 duplicates the communicator (collectively), so the
/// file does not depend on `comm`'s lifetime at the MPI level.
PropertyListId mpio_file_access(const engine::Communicator& comm, const Hdf5Location& where) {
  PropertyListId access{checked(H5Pcreate(H5P_FILE_ACCESS), "create file access property list", where)};
  checked(H5Pset_fapl_mpio(access.get(), engine::mpi_comm(comm), MPI_INFO_NULL), "select the MPI-IO driver",
          where);
  return access;
}

/// File access for files this layer creates: MPI-IO, and the 1.8 file format, in which attributes
/// beyond 64 KiB (config text) go to dense storage instead of failing, and which HDF5 1.8 and later
/// (h5py) read. Reading keeps the defaults, so files in newer formats still open.
PropertyListId mpio_file_access_for_writing(const engine::Communicator& comm, const Hdf5Location& where) {
  auto access = mpio_file_access(comm, where);
  checked(H5Pset_libver_bounds(access.get(), H5F_LIBVER_V18, H5F_LIBVER_V18), "set file format", where);
  return access;
}

}  // namespace

// ---- checked calls -------------------------------------------------------------------------------

void silence_hdf5_error_printing() {
  static const bool silenced = [] {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    return true;
  }();
  static_cast<void>(silenced);
}

std::string take_hdf5_error_stack() {
  const hid_t stack = H5Eget_current_stack();  // a copy; the thread's stack is cleared
  if (stack < 0) return {};
  std::string text;
  H5Ewalk2(stack, H5E_WALK_DOWNWARD, append_error_entry, &text);
  H5Eclose_stack(stack);
  return text;
}

void throw_hdf5_error(std::string_view operation, const Hdf5Location& where) {
  const std::string stack = take_hdf5_error_stack();
  throw Hdf5Error("HDF5 " + std::string(operation) + " failed (" + describe(where) + ")" +
                  (stack.empty() ? std::string() : "; HDF5 error stack:" + stack));
}

std::string_view to_string(ElementType type) {
  switch (type) {
    case ElementType::int8: return "int8";
    case ElementType::uint8: return "uint8";
    case ElementType::int16: return "int16";
    case ElementType::uint16: return "uint16";
    case ElementType::int32: return "int32";
    case ElementType::uint32: return "uint32";
    case ElementType::int64: return "int64";
    case ElementType::uint64: return "uint64";
    case ElementType::float32: return "float32";
    case ElementType::float64: return "float64";
    case ElementType::fixed_string: return "fixed_string";
    case ElementType::variable_string: return "variable_string";
    case ElementType::other: return "other";
  }
  return "other";
}

std::string_view to_string(CollectiveIoMode mode) {
  switch (mode) {
    case CollectiveIoMode::none: return "none";
    case CollectiveIoMode::chunk_independent: return "chunk_independent";
    case CollectiveIoMode::chunk_collective: return "chunk_collective";
    case CollectiveIoMode::chunk_mixed: return "chunk_mixed";
    case CollectiveIoMode::contiguous_collective: return "contiguous_collective";
    case CollectiveIoMode::uncached: return "uncached";
  }
  return "none";
}

// ---- File: life cycle ----------------------------------------------------------------------------

File::File(const engine::Communicator& comm, std::string path, FileId id, const FileOptions& options)
    : comm_(&comm), path_(std::move(path)), id_(std::move(id)), options_(options) {}

File File::create(const engine::Communicator& comm, const std::filesystem::path& path, const FileOptions& options) {
  silence_hdf5_error_printing();
  const std::string name = path.string();
  const Hdf5Location where{name, {}};
  const auto access = mpio_file_access_for_writing(comm, where);
  FileId id{checked(H5Fcreate(name.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, access.get()), "create file", where)};
  return File(comm, name, std::move(id), options);
}

File File::open_read(const engine::Communicator& comm, const std::filesystem::path& path) {
  silence_hdf5_error_printing();
  const std::string name = path.string();
  const Hdf5Location where{name, {}};
  const auto access = mpio_file_access(comm, where);
  const hid_t id = H5Fopen(name.c_str(), H5F_ACC_RDONLY, access.get());
  if (id < 0) {
    std::error_code error;
    if (!std::filesystem::exists(path, error)) {
      static_cast<void>(take_hdf5_error_stack());  // "unable to open file" adds nothing to "no such file"
      fail(where, "cannot open for reading: no such file");
    }
    throw_hdf5_error("open file for reading", where);
  }
  return File(comm, name, FileId{id}, {});
}

File::File(File&& other) noexcept
    : comm_(other.comm_),
      path_(std::move(other.path_)),
      id_(std::move(other.id_)),
      options_(other.options_),
      uncached_(std::move(other.uncached_)) {}

File& File::operator=(File&& other) noexcept {
  if (this != &other) {
    if (id_.valid()) {
      close_open_children(id_.get());
      id_.close();
    }
    comm_ = other.comm_;
    path_ = std::move(other.path_);
    id_ = std::move(other.id_);
    options_ = other.options_;
    uncached_ = std::move(other.uncached_);
  }
  return *this;
}

namespace {
std::atomic<bool> a_file_close_failed{false};
}  // namespace

bool file_close_failed() { return a_file_close_failed.load(); }

File::~File() {
  if (!id_.valid()) return;
  close_open_children(id_.get());
  if (id_.close() < 0) {
    a_file_close_failed = true;
    static_cast<void>(take_hdf5_error_stack());  // a destructor cannot report; close() can
  }
}

void File::close() {
  if (!id_.valid()) return;
  std::string writer_failure;  // reported after the collective close below, which every rank must join
  if (uncached_) {
    try {
      uncached_->close();
    } catch (const Error& error) {
      writer_failure = error.what();
    }
    uncached_.reset();
  }
  close_open_children(id_.get());
  if (id_.close() < 0) {
    a_file_close_failed = true;
    throw_hdf5_error("close file", at({}));
  }
  if (!writer_failure.empty()) throw Hdf5Error(writer_failure);
}

// ---- File: structure -----------------------------------------------------------------------------

void File::create_groups(std::string_view group_path) {
  std::string prefix;
  for (const auto& component : path_components(group_path)) {
    prefix += "/" + component;
    const auto where = at(prefix);
    if (checked(H5Lexists(id_.get(), prefix.c_str(), H5P_DEFAULT), "check link", where) > 0) {
      GroupId existing{checked(H5Gopen2(id_.get(), prefix.c_str(), H5P_DEFAULT), "open group", where)};
    } else {
      GroupId created{checked(H5Gcreate2(id_.get(), prefix.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                              "create group", where)};
    }
  }
}

bool File::exists(std::string_view object_path) const {
  const auto components = path_components(object_path);
  std::string prefix;
  for (std::size_t i = 0; i < components.size(); ++i) {
    prefix += "/" + components[i];
    const auto where = at(prefix);
    if (checked(H5Lexists(id_.get(), prefix.c_str(), H5P_DEFAULT), "check link", where) == 0) return false;
    if (i + 1 == components.size()) break;
    // Only a group can have children; asking HDF5 to look inside a dataset is an error, not "no".
    ObjectId parent{checked(H5Oopen(id_.get(), prefix.c_str(), H5P_DEFAULT), "open object", where)};
    if (H5Iget_type(parent.get()) != H5I_GROUP) return false;
  }
  return true;
}

DatasetInfo File::dataset_info(std::string_view dataset_path) const {
  const auto dataset = open_dataset(*this, dataset_path);
  return info_of(dataset.get(), at(dataset_path));
}

// ---- File: numeric rows --------------------------------------------------------------------------

WriteReport File::write_rows_erased(std::string_view dataset_path, const void* local_values,
                                    std::uint64_t value_count, int rank, std::uint64_t columns,
                                    ElementType type, const WriteOptions& options) {
  const auto where = at(dataset_path);
  const bool local_shape_ok = columns >= 1 && value_count % columns == 0;
  // One reduction checks that no rank's values are malformed and that columns and element type
  // agree (max of x and of ~x give max and min): a rank that threw alone would hang the others.
  const auto type_code = static_cast<std::uint64_t>(type);
  const std::array<std::uint64_t, 5> mine{std::uint64_t{!local_shape_ok}, columns, ~columns, type_code,
                                          ~type_code};
  const auto agreed = comm_->allreduce(mine, engine::ReduceOp::max);
  if (agreed[0] != 0) {
    if (!local_shape_ok) {
      fail(where, columns == 0 ? std::string("a matrix needs at least one column")
                               : std::to_string(value_count) + " values are not whole rows of " +
                                     std::to_string(columns) + " columns");
    }
    fail(where, "another rank passed values that are not whole rows");
  }
  if (agreed[1] != ~agreed[2]) {
    fail(where, "ranks disagree on the number of columns (from " + std::to_string(~agreed[2]) + " to " +
                    std::to_string(agreed[1]) + ")");
  }
  if (agreed[3] != ~agreed[4]) fail(where, "ranks disagree on the element type");
  return write_agreed_rows(dataset_path, local_values, value_count / columns, rank, columns, file_type_of(type),
                           memory_type_of(type), options.layout);
}

WriteReport File::write_agreed_rows(std::string_view dataset_path, const void* memory, std::uint64_t local_rows,
                                    int rank, std::uint64_t columns, hid_t file_type, hid_t memory_type,
                                    Layout layout) {
  const auto where = at(dataset_path);
  WriteReport report;
  report.local_rows = local_rows;
  report.first_row = comm_->exclusive_prefix_sum(local_rows);
  report.global_rows = comm_->allreduce(local_rows, engine::ReduceOp::sum);

  const std::array<hsize_t, 2> global_dims{report.global_rows, columns};
  const std::array<hsize_t, 2> max_dims{H5S_UNLIMITED, columns};
  const bool chunked = layout == Layout::chunked;
  const std::uint64_t element_bytes = H5Tget_size(file_type);
  const std::uint64_t row_bytes = columns * element_bytes;
  // The same on every rank: shape, types and options agree.
  const bool uncached = !chunked &&
                        options_.page_cache_bypass.applies_to(report.global_rows * row_bytes, comm_->size()) &&
                        checked(H5Tequal(file_type, memory_type), "compare file and memory types", where) > 0;
  DataspaceId file_space{
      checked(H5Screate_simple(rank, global_dims.data(), chunked ? max_dims.data() : nullptr),
              "create file dataspace", where)};

  PropertyListId link_creation{checked(H5Pcreate(H5P_LINK_CREATE), "create link property list", where)};
  checked(H5Pset_create_intermediate_group(link_creation.get(), 1), "request intermediate groups", where);
  PropertyListId dataset_creation{
      checked(H5Pcreate(H5P_DATASET_CREATE), "create dataset property list", where)};
  // Every element is written right away by some rank: filling storage with zeros first would only
  // double the I/O (parallel HDF5 allocates storage when the dataset is created).
  checked(H5Pset_fill_time(dataset_creation.get(), H5D_FILL_TIME_NEVER), "set fill time", where);
  if (uncached) {
    // The rows go to the storage's address, so it must exist now (parallel HDF5's default; made sure).
    checked(H5Pset_alloc_time(dataset_creation.get(), H5D_ALLOC_TIME_EARLY), "allocate storage early", where);
  }
  if (chunked) {
    const auto chunk = chunk_dims_for(report.global_rows, columns, element_bytes);
    checked(H5Pset_chunk(dataset_creation.get(), rank, chunk.data()), "set chunk shape", where);
  }
  const std::string name(dataset_path);
  DatasetId dataset{checked(H5Dcreate2(id_.get(), name.c_str(), file_type, file_space.get(),
                                       link_creation.get(), dataset_creation.get(), H5P_DEFAULT),
                            "create dataset", where)};

  if (report.global_rows * columns == 0) {
    // An empty dataset has no storage; HDF5 1.10 fails a collective write to it even with nothing
    // selected anywhere. Every rank knows the dataset is empty, so every rank skips the write.
    return report;
  }
  if (uncached) {
    write_rows_uncached(dataset.get(), report, row_bytes, memory, where);
    report.io_mode = CollectiveIoMode::uncached;
    return report;
  }
  const std::array<std::uint64_t, 2> dims{report.global_rows, columns};
  const auto selection =
      select_rows(std::move(file_space), std::span(dims).first(static_cast<std::size_t>(rank)),
                  report.first_row, local_rows, where);
  const auto transfer = collective_transfer(where);
  // Every rank calls H5Dwrite, also with nothing selected: a rank that skipped it would hang the
  // others. One rank's part of one call must stay below 2 GiB with some MPI-IO implementations
  // (their counts are C ints); not split here (documented in io/hdf5.hpp).
  const char nothing = 0;
  const herr_t written = H5Dwrite(dataset.get(), memory_type, selection.memory_space.get(),
                                  selection.file_space.get(), transfer.get(), memory != nullptr ? memory : &nothing);
  agree_on_write_failure(*comm_, written < 0 ? "HDF5 error stack:" + take_hdf5_error_stack() : std::string(),
                         "HDF5 write rows collectively", where);

  H5D_mpio_actual_io_mode_t mode = H5D_MPIO_NO_COLLECTIVE;
  checked(H5Pget_mpio_actual_io_mode(transfer.get(), &mode), "query collective I/O mode", where);
  report.io_mode = io_mode_from(mode);
  checked(H5Pget_mpio_no_collective_cause(transfer.get(), &report.local_no_collective_cause,
                                          &report.global_no_collective_cause),
          "query why I/O was not collective", where);
  return report;
}

void File::write_rows_uncached(hid_t dataset, const WriteReport& rows, std::uint64_t row_bytes,
                               const void* memory, const Hdf5Location& where) {
  const haddr_t storage = H5Dget_offset(dataset);  // the same on every rank: metadata is collective
  if (storage == HADDR_UNDEF) fail(where, "has no storage address to write its rows to");
  std::string failure;
  if (rows.local_rows > 0) {
    try {
      if (!uncached_) uncached_ = std::make_unique<RangeWriter>(path_, RangeWriter::Mode::around_page_cache);
      uncached_->write_at(storage + rows.first_row * row_bytes,
                          std::span(static_cast<const std::byte*>(memory), rows.local_rows * row_bytes));
    } catch (const Error& error) {
      failure = error.what();
    }
  }
  agree_on_write_failure(*comm_, std::move(failure), "writing rows around the page cache", where);
}

void File::read_rows_erased(std::string_view dataset_path, engine::RowRange rows, int required_rank,
                            ElementType type, const std::function<void*(std::uint64_t)>& allocate) const {
  const auto where = at(dataset_path);
  const auto dataset = open_dataset(*this, dataset_path);
  const auto info = info_of(dataset.get(), where);
  if (info.rank() != required_rank) {
    fail(where, "has " + std::to_string(info.rank()) + " dimension(s), expected " +
                    std::to_string(required_rank) + (required_rank == 1 ? " (a vector)" : " (a matrix)"));
  }
  if (!is_numeric(info.element_type)) {
    fail(where, "stores " + std::string(to_string(info.element_type)) + ", expected numbers");
  }
  check_row_ranges(*this, rows, info.rows(), where);
  void* memory = allocate(rows.size() * info.columns());
  if (info.rows() * info.columns() == 0) return;  // no storage to read (and the same on every rank)
  DataspaceId file_space{checked(H5Dget_space(dataset.get()), "get dataspace", where)};
  const auto selection = select_rows(std::move(file_space), info.dims, rows.begin, rows.size(), where);
  const auto transfer = collective_transfer(where);
  char nothing = 0;
  // Collective even when types differ: HDF5 then converts and reads independently, but every rank
  // must still call.
  checked(H5Dread(dataset.get(), memory_type_of(type), selection.memory_space.get(),
                  selection.file_space.get(), transfer.get(), memory != nullptr ? memory : &nothing),
          "read rows", where);
}

// ---- File: strings -------------------------------------------------------------------------------

WriteReport File::write_string_rows(std::string_view dataset_path,
                                    std::span<const std::string> local_strings) {
  const auto where = at(dataset_path);
  std::uint64_t longest = 0;
  bool has_null = false;
  for (const auto& text : local_strings) {
    longest = std::max<std::uint64_t>(longest, text.size());
    has_null = has_null || text.find('\0') != std::string::npos;
  }
  const std::array<std::uint64_t, 2> mine{longest, std::uint64_t{has_null}};
  const auto agreed = comm_->allreduce(mine, engine::ReduceOp::max);
  if (agreed[1] != 0) {
    fail(where, has_null ? "a string contains '\\0', which fixed-length strings cannot hold"
                         : "another rank passed a string containing '\\0'");
  }
  const std::uint64_t width = std::max<std::uint64_t>(agreed[0], 1);  // HDF5 has no zero-width strings
  std::vector<char> packed(local_strings.size() * width, '\0');
  for (std::size_t i = 0; i < local_strings.size(); ++i) {
    std::memcpy(packed.data() + i * width, local_strings[i].data(), local_strings[i].size());
  }
  const auto type = fixed_string_type(width, where);
  return write_agreed_rows(dataset_path, packed.data(), local_strings.size(), 1, 1, type.get(), type.get(),
                           Layout::contiguous);
}

WriteReport File::write_root_strings(std::string_view dataset_path, std::span<const std::string> strings) {
  return write_string_rows(dataset_path, comm_->is_root() ? strings : std::span<const std::string>{});
}

std::vector<std::string> File::read_string_rows(std::string_view dataset_path, engine::RowRange rows) const {
  const auto where = at(dataset_path);
  const auto dataset = open_dataset(*this, dataset_path);
  const auto info = info_of(dataset.get(), where);
  if (info.rank() != 1) {
    fail(where, "has " + std::to_string(info.rank()) + " dimension(s), expected 1 (strings)");
  }
  if (info.element_type != ElementType::fixed_string && info.element_type != ElementType::variable_string) {
    fail(where, "stores " + std::string(to_string(info.element_type)) + ", expected strings");
  }
  check_row_ranges(*this, rows, info.rows(), where);
  if (info.rows() == 0) return {};  // no storage to read (and the same on every rank)
  DataspaceId file_space{checked(H5Dget_space(dataset.get()), "get dataspace", where)};
  const auto selection = select_rows(std::move(file_space), info.dims, rows.begin, rows.size(), where);
  const auto transfer = collective_transfer(where);
  DatatypeId stored{checked(H5Dget_type(dataset.get()), "get datatype", where)};
  DatatypeId memory_type{checked(H5Tcopy(stored.get()), "copy string type", where)};
  std::vector<std::string> strings;
  strings.reserve(rows.size());

  if (info.element_type == ElementType::fixed_string) {
    const std::size_t width = info.element_size_bytes;
    const H5T_str_t padding = H5Tget_strpad(stored.get());
    std::vector<char> packed(std::max<std::size_t>(rows.size() * width, 1));
    checked(H5Dread(dataset.get(), memory_type.get(), selection.memory_space.get(),
                    selection.file_space.get(), transfer.get(), packed.data()),
            "read strings", where);
    for (std::size_t i = 0; i < rows.size(); ++i) {
      strings.push_back(trimmed_fixed_string(packed.data() + i * width, width, padding));
    }
    return strings;
  }
  // Variable-length strings (written by other tools, e.g. h5py): HDF5 allocates each one.
  std::vector<char*> pointers(std::max<std::size_t>(rows.size(), 1), nullptr);
  checked(H5Dread(dataset.get(), memory_type.get(), selection.memory_space.get(), selection.file_space.get(),
                  transfer.get(), pointers.data()),
          "read strings", where);
  struct Reclaim {
    hid_t type, space;
    void* buffer;
    ~Reclaim() { H5Dvlen_reclaim(type, space, H5P_DEFAULT, buffer); }
  } reclaim{memory_type.get(), selection.memory_space.get(), pointers.data()};
  for (std::size_t i = 0; i < rows.size(); ++i) strings.emplace_back(pointers[i] ? pointers[i] : "");
  return strings;
}

std::vector<std::string> File::read_strings(std::string_view dataset_path) const {
  return read_string_rows(dataset_path, {0, dataset_info(dataset_path).rows()});
}

// ---- File: attributes ----------------------------------------------------------------------------

void File::write_int_attribute(std::string_view object_path, std::string_view name, std::int64_t value) {
  write_attribute(*this, object_path, name, H5T_STD_I64LE, H5T_NATIVE_INT64, &value, bytes_of(value));
}

void File::write_double_attribute(std::string_view object_path, std::string_view name, double value) {
  write_attribute(*this, object_path, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &value, bytes_of(value));
}

void File::write_string_attribute(std::string_view object_path, std::string_view name,
                                  std::string_view value) {
  const auto where = at(object_path);
  const std::uint64_t width = std::max<std::size_t>(value.size(), 1);
  std::vector<char> padded(width, '\0');
  std::copy(value.begin(), value.end(), padded.begin());
  const auto type = fixed_string_type(width, where);
  write_attribute(*this, object_path, name, type.get(), type.get(), padded.data(), value);
}

bool File::has_attribute(std::string_view object_path, std::string_view name) const {
  const auto object = open_object(*this, object_path);
  const std::string attribute_name(name);
  return checked(H5Aexists(object.get(), attribute_name.c_str()), "check attribute " + in_quotes(name),
                 at(object_path)) > 0;
}

std::int64_t File::read_int_attribute(std::string_view object_path, std::string_view name) const {
  const auto where = at(object_path);
  const auto opened = open_attribute(*this, object_path, name);
  if (H5Tget_class(opened.type.get()) != H5T_INTEGER) {
    fail(where, "attribute " + in_quotes(name) + " stores " + std::string(to_string(opened.element_type)) +
                    ", expected an integer");
  }
  std::int64_t value = 0;
  checked(H5Aread(opened.attribute.get(), H5T_NATIVE_INT64, &value), "read attribute " + in_quotes(name),
          where);
  return value;
}

double File::read_double_attribute(std::string_view object_path, std::string_view name) const {
  const auto where = at(object_path);
  const auto opened = open_attribute(*this, object_path, name);
  if (!is_numeric(opened.element_type)) {
    fail(where, "attribute " + in_quotes(name) + " stores " + std::string(to_string(opened.element_type)) +
                    ", expected a number");
  }
  double value = 0;
  checked(H5Aread(opened.attribute.get(), H5T_NATIVE_DOUBLE, &value), "read attribute " + in_quotes(name),
          where);
  return value;
}

std::string File::read_string_attribute(std::string_view object_path, std::string_view name) const {
  const auto where = at(object_path);
  const auto opened = open_attribute(*this, object_path, name);
  const std::string operation = "read attribute " + in_quotes(name);
  if (opened.element_type == ElementType::fixed_string) {
    const std::size_t width = H5Tget_size(opened.type.get());
    std::vector<char> chars(width);
    checked(H5Aread(opened.attribute.get(), opened.type.get(), chars.data()), operation, where);
    return trimmed_fixed_string(chars.data(), width, H5Tget_strpad(opened.type.get()));
  }
  if (opened.element_type == ElementType::variable_string) {
    char* text = nullptr;
    checked(H5Aread(opened.attribute.get(), opened.type.get(), &text), operation, where);
    std::string value = text != nullptr ? text : "";
    H5free_memory(text);
    return value;
  }
  fail(where, "attribute " + in_quotes(name) + " stores " + std::string(to_string(opened.element_type)) +
                  ", expected a string");
}

bool File::is_complete() const {
  return has_attribute("/", complete_attribute_name) && read_int_attribute("/", complete_attribute_name) == 1;
}

// ---- atomic files --------------------------------------------------------------------------------

std::filesystem::path temporary_path_for(const std::filesystem::path& final_path) {
  std::filesystem::path temporary = final_path;
  temporary += ".tmp";
  return temporary;
}

void write_file_atomically(const engine::Communicator& comm, const std::filesystem::path& final_path,
                           const std::function<void(File&)>& write_contents, const FileOptions& options) {
  const auto temporary = temporary_path_for(final_path);
  std::optional<File> file(File::create(comm, temporary, options));
  try {
    // Agree right after the caller's part: a rank whose writer threw must not leave the others
    // waiting in the collective attribute write below.
    engine::collectively(comm, [&] { write_contents(*file); });
    engine::collectively(comm, [&] {
      file->write_int_attribute("/", complete_attribute_name, 1);  // last: marks the content whole
      file->close();
    });
  } catch (const CollectiveError&) {
    // Every rank is here (that is what the agreement is for): close, drop the partial file, rethrow.
    file.reset();
    if (comm.is_root()) {
      std::error_code ignored;  // the original error matters more than a failed clean-up
      std::filesystem::remove(temporary, ignored);
    }
    comm.barrier();  // no rank goes on while the partial file may still be there
    throw;
  }
  std::string rename_failure;
  if (comm.is_root()) {
    std::error_code error;
    std::filesystem::rename(temporary, final_path, error);  // atomic, replaces an older file
    if (error) {
      rename_failure = "cannot rename " + in_quotes(temporary.string()) + " to " +
                       in_quotes(final_path.string()) + ": " + error.message();
    }
  }
  // Stands in for a barrier and tells every rank the outcome: no rank returns before the file has
  // its final name, and a failed rename throws everywhere.
  comm.broadcast(rename_failure);
  if (!rename_failure.empty()) throw Hdf5Error(rename_failure);
}

}  // namespace omniseg::io
