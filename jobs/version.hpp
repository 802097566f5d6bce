// jobs/version.hpp — the omniseg version and the git commit it was built from.
#pragma once

#include <string>
#include <string_view>

namespace omniseg::jobs {

std::string_view version();
/// Abbreviated commit id, "-dirty" when built with uncommitted changes, "unknown" outside git.
std::string_view git_sha();

/// "omniseg 0.1.0 (git 0123456789ab)"
inline std::string version_line() {
  return "omniseg " + std::string(version()) + " (git " + std::string(git_sha()) + ")";
}

}  // namespace omniseg::jobs
