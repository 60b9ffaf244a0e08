// gfp.h - allocation flags (gfp_t), typed.
// Threading: stateless.
#pragma once
#include <cstdint>

#include "base/flags.h"

namespace guplab {

enum class gfp_t : uint32_t {
  NONE = 0,
  __GFP_MOVABLE = 1u << 0,  // may come from ZONE_MOVABLE
  __GFP_ZERO = 1u << 1,     // zero the memory
  __GFP_COMP = 1u << 2,     // make a compound page (folio) of a high order
  __GFP_NOWARN = 1u << 3,
  __GFP_NORETRY = 1u << 4,  // do not reclaim to satisfy it
  __GFP_FS = 1u << 5,       // reclaim may call into the filesystem
  __GFP_IO = 1u << 6,
  GFP_KERNEL = (1u << 5) | (1u << 6),
  GFP_NOFS = 1u << 6,
  GFP_HIGHUSER = (1u << 5) | (1u << 6),
  GFP_HIGHUSER_MOVABLE = (1u << 0) | (1u << 5) | (1u << 6),
  GFP_TRANSHUGE = (1u << 0) | (1u << 2) | (1u << 3) | (1u << 4),
};
GUPLAB_ENUM_FLAGS(gfp_t)

}  // namespace guplab
