// fs.h - struct address_space and its operations: the page cache's owner of file pages.
// The filesystem layer (fs/) fills these in; mm/ needs only what is declared here.
// Threading: see each field.
#pragma once
#include "mm/mm_types.h"

namespace guplab {

struct address_space;

struct address_space_operations {
  /** dirty_folio() - mark @f dirty and account it; returns true if it was clean. */
  bool (*dirty_folio)(address_space* mapping, folio* f) = nullptr;
};

struct address_space {
  const address_space_operations* a_ops = nullptr;
  void* host = nullptr;  // the inode
};

}  // namespace guplab
