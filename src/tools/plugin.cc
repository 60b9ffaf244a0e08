// plugin.cc - loading `--plugin` libraries (tools/plugin.h).
#include "tools/plugin.h"

#include <dlfcn.h>

#include <cstring>

namespace guplab::tools {

int load_plugins(std::vector<char*>* args, std::string* error) {
  std::vector<char*> kept;
  for (size_t i = 0; i < args->size(); i++) {
    char* a = (*args)[i];
    const char* path = nullptr;
    if (i > 0 && std::strcmp(a, "--plugin") == 0) {
      if (i + 1 >= args->size()) {
        *error = "--plugin: needs the path of a shared library";
        return -1;
      }
      path = (*args)[++i];
    } else if (i > 0 && std::strncmp(a, "--plugin=", 9) == 0) {
      path = a + 9;
    } else {
      kept.push_back(a);
      continue;
    }
    if (*path == '\0') {  // dlopen("") would hand back the program itself and load nothing
      *error = "--plugin: an empty path; give the path of a shared library";
      return -1;
    }
    // RTLD_NOW: an unresolved symbol is an error here, not a crash in a run; a name
    // without a slash is searched as dlopen() does (LD_LIBRARY_PATH, ...).
    if (!dlopen(path, RTLD_NOW | RTLD_GLOBAL)) {
      const char* why = dlerror();
      *error = std::string("--plugin ") + path + ": " + (why ? why : "cannot load");
      return -1;
    }
  }
  *args = std::move(kept);
  return 0;
}

}  // namespace guplab::tools
