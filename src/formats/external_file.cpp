#include "formats/external_file.h"

#include <system_error>

namespace cellar::formats {

namespace fs = std::filesystem;

bool external_path_inside(const fs::path& base, const std::string& location) {
  if (location.empty() || location.find('\0') != std::string::npos) return false;
  const fs::path rel(location);
  if (rel.is_absolute() || rel.has_root_name() || rel.has_root_directory()) return false;
  std::error_code ec;
  const fs::path b = fs::weakly_canonical(base, ec);
  if (ec) return false;
  const fs::path full = fs::weakly_canonical(b / rel, ec);
  if (ec) return false;
  auto bi = b.begin(), fi = full.begin();
  for (; bi != b.end(); ++bi, ++fi)
    if (fi == full.end() || *bi != *fi) return false;
  return fi != full.end();
}

}  // namespace cellar::formats
