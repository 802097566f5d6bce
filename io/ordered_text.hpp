// io/ordered_text.hpp — one text file written by all ranks at once, in rank order.
//
// Owns: writing the concatenation of every rank's text without funnelling it through one rank:
// each rank writes its own byte range (offsets from an exclusive prefix sum) with io::RangeWriter,
// which parallel file systems serve for disjoint ranges. The file appears atomically: written under
// a temporary name, renamed by rank 0 when every rank has finished.
#pragma once

#include <string>
#include <string_view>

#include "engine/communicator.hpp"
#include "io/range_writer.hpp"

namespace omniseg::io {

/// Collective. Writes every rank's `local_text`, rank 0's first, to `path`, around the page cache
/// when `bypass` applies to the whole text. A failure on any rank (e.g. the directory is not
/// writable) is the same omniseg::CollectiveError on every rank.
void write_ordered_text(const engine::Communicator& comm, const std::string& path, std::string_view local_text,
                        const PageCacheBypass& bypass = {});

}  // namespace omniseg::io
