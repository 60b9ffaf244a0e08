// sync_point_names.h - the names of the model's sync points, in one place.
//
// Model code (mm/, fs/, block/, drivers/) passes these constants to TEST_SYNC_POINT();
// scenarios and tests name the same constants in their scripts, so that renaming a point
// is a compile-time change on both sides. A device's points are its name followed by
// one of the kDev* suffixes ("rdma0" + kDevRegMrDone = "rdma0:reg_mr:done"; see
// device_sync_point()). A scenario's own points (Script::pass()) live in the scenario.
//
// is_model_sync_point() answers whether a name is one of the model's fixed points;
// models_prefix() whether a name claims to be one (its prefix before the first ':' is
// a prefix the model uses): Script::order() refuses a name that claims to be a model
// point and is not one (a misspelt or renamed point would otherwise never be passed).
//
// Threading: constants and pure functions.
#pragma once
#include <string>
#include <string_view>

namespace guplab::sp {

// mm/truncate.cc
inline constexpr char kTruncateStart[] = "truncate:start";
inline constexpr char kTruncateDone[] = "truncate:done";
// mm/vmscan.cc
inline constexpr char kReclaimTryToUnmapBefore[] = "reclaim:try_to_unmap:before";
inline constexpr char kReclaimDropBuffersDone[] = "reclaim:drop_buffers:done";
inline constexpr char kReclaimRemoveMappingBefore[] = "reclaim:remove_mapping:before";
// mm/page-writeback.cc, mm/rmap.cc, fs/buffer.cc
inline constexpr char kWritebackMkcleanDone[] = "writeback:mkclean:done";
inline constexpr char kWritebackEnd[] = "writeback:end";
inline constexpr char kWritebackClearDirtyBefore[] = "writeback:clear_dirty:before";
inline constexpr char kWritebackWaitPinned[] = "writeback:wait_pinned";
inline constexpr char kWritebackSubmit[] = "writeback:submit";
inline constexpr char kRmapMkcleanPinChecked[] = "rmap:mkclean:pin_checked";
// mm/filemap.cc
inline constexpr char kFilemapGetFolioGotRef[] = "filemap:get_folio:got_ref";
inline constexpr char kFaultRetryDropped[] = "fault:retry:dropped";
// fs/fs-writeback.cc, fs/super.cc, fs/dax.cc
inline constexpr char kFlusherWake[] = "flusher:wake";
inline constexpr char kUmountWaitActive[] = "umount:wait_active";
inline constexpr char kDaxBreakLayoutsWait[] = "dax:break_layouts:wait";
// block/ramdisk.cc, block/bio.cc
inline constexpr char kRamdiskDmaChunk[] = "ramdisk:dma:chunk";
inline constexpr char kBioReleaseChecked[] = "bio:release:checked";

inline constexpr const char* kModelPoints[] = {
    kTruncateStart,         kTruncateDone,          kReclaimTryToUnmapBefore, kReclaimDropBuffersDone,
    kReclaimRemoveMappingBefore, kWritebackMkcleanDone, kWritebackEnd,       kWritebackClearDirtyBefore,
    kWritebackWaitPinned,   kWritebackSubmit,       kRmapMkcleanPinChecked,   kFilemapGetFolioGotRef,
    kFaultRetryDropped,     kFlusherWake,           kUmountWaitActive,        kDaxBreakLayoutsWait,
    kRamdiskDmaChunk,       kBioReleaseChecked,
};

// Device points (drivers/rdma_device.cc, odp_device.cc, short_dma_device.cc): suffixes
// of the device's name.
inline constexpr char kDevRegMrDone[] = ":reg_mr:done";
inline constexpr char kDevWriteBegin[] = ":write:begin";
inline constexpr char kDevChunk[] = ":chunk";
inline constexpr char kDevWriteEnd[] = ":write:end";
inline constexpr char kDevDeregBegin[] = ":dereg:begin";
inline constexpr char kDevDeregDone[] = ":dereg:done";
inline constexpr char kDevFault[] = ":fault";
inline constexpr char kDevPinned[] = ":pinned";
inline constexpr char kDevSubmitted[] = ":submitted";
inline constexpr char kDevCompleted[] = ":completed";
inline constexpr char kDevDmaDone[] = ":dma:done";

/** device_sync_point() - device @dev's point @suffix (one of the kDev* constants). */
inline std::string device_sync_point(std::string_view dev, const char* suffix) {
  return std::string(dev) + suffix;
}

/** is_model_sync_point() - is @name one of kModelPoints? */
inline bool is_model_sync_point(std::string_view name) {
  for (const char* p : kModelPoints)
    if (name == p) return true;
  return false;
}

/** models_prefix() - does @name begin with "<prefix>:" for a prefix some model point uses? */
inline bool models_prefix(std::string_view name) {
  const size_t colon = name.find(':');
  if (colon == std::string_view::npos) return false;
  const std::string_view prefix = name.substr(0, colon + 1);
  for (const char* p : kModelPoints)
    if (std::string_view(p).substr(0, colon + 1) == prefix) return true;
  return false;
}

}  // namespace guplab::sp
