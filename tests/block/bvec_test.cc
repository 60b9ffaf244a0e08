// bvec_test.cc - bio_vec's pfn encoding with the BVEC_PFN_GUP bit, and bvec_iter.
#include "block/bvec.h"

#include <gtest/gtest.h>

#include "tests/block/block_test_util.h"
#include "mm/memory_model.h"

namespace guplab {
namespace {

using BvecTest = testing::BlockTest;

TEST_F(BvecTest, PfnNamesThePageWithOrWithoutTheGupBit) {
  page* p = kpage();
  bio_vec bv;
  bvec_set_page(&bv, p, 512, 1024, false);
  EXPECT_EQ(bvec_page(&bv), p);
  EXPECT_FALSE(bvec_is_gup(&bv));
  EXPECT_EQ(bv.bv_pfn & BVEC_PFN_GUP, 0u);
  EXPECT_EQ(bvec_virt(&bv), static_cast<char*>(page_address(p)) + 1024);

  bvec_set_page(&bv, p, PAGE_SIZE, 0, true);
  EXPECT_TRUE(bvec_is_gup(&bv));
  EXPECT_EQ(bv.bv_pfn & BVEC_PFN_GUP, BVEC_PFN_GUP);
  EXPECT_EQ(bvec_page(&bv), p) << "the GUP bit must not disturb the pfn";
  EXPECT_EQ(page_to_pfn(bvec_page(&bv)), page_to_pfn(p));
}

TEST_F(BvecTest, GupBitIsTheTopBitAndNeverAPfnBit) {
  EXPECT_EQ(BVEC_PFN_GUP, 1ul << 63);
  // Every page of the machine, first and last, encodes below the bit.
  page* first = m().mem().pfn_to_page(0);
  page* last = m().mem().pfn_to_page(m().mem().nr_pages() - 1);
  EXPECT_EQ(bvec_pfn_of(first) & BVEC_PFN_GUP, 0u);
  EXPECT_EQ(bvec_pfn_of(last) & BVEC_PFN_GUP, 0u);
  EXPECT_EQ(bvec_pfn_of(last) - bvec_pfn_of(first), m().mem().nr_pages() - 1);
}

TEST_F(BvecTest, PfnsOfTwoMachinesNeverCollide) {
  Machine other(testing::small_config());
  page* a = m().mem().pfn_to_page(5);
  page* b = other.mem().pfn_to_page(5);
  EXPECT_EQ(page_to_pfn(a), page_to_pfn(b));
  EXPECT_NE(bvec_pfn_of(a), bvec_pfn_of(b));
  bio_vec bv;
  bvec_set_page(&bv, b, 512, 0, true);
  EXPECT_EQ(bvec_page(&bv), b);
  EXPECT_EQ(page_machine(bvec_page(&bv)), &other);
}

TEST_F(BvecTest, IterWalksPartialSegmentsAcrossVecs) {
  page* p0 = kpage();
  page* p1 = kpage();
  bio_vec vecs[2];
  bvec_set_page(&vecs[0], p0, 2048, 2048, false);
  bvec_set_page(&vecs[1], p1, PAGE_SIZE, 0, true);
  bvec_iter it;
  it.bi_size = 2048 + PAGE_SIZE;

  bio_vec seg = bvec_iter_bvec(vecs, it);
  EXPECT_EQ(bvec_page(&seg), p0);
  EXPECT_EQ(seg.bv_offset, 2048u);
  EXPECT_EQ(seg.bv_len, 2048u);

  ASSERT_TRUE(bvec_iter_advance(vecs, &it, 1024));  // inside the first vec
  seg = bvec_iter_bvec(vecs, it);
  EXPECT_EQ(seg.bv_offset, 3072u);
  EXPECT_EQ(seg.bv_len, 1024u);

  ASSERT_TRUE(bvec_iter_advance(vecs, &it, 1024 + 512));  // into the second
  EXPECT_EQ(it.bi_idx, 1u);
  EXPECT_EQ(it.bi_bvec_done, 512u);
  seg = bvec_iter_bvec(vecs, it);
  EXPECT_EQ(bvec_page(&seg), p1);
  EXPECT_TRUE(bvec_is_gup(&seg)) << "a segment keeps its vec's GUP bit";
  EXPECT_EQ(seg.bv_offset, 512u);
  EXPECT_EQ(seg.bv_len, PAGE_SIZE - 512);

  // bi_size clips the segment.
  it.bi_size = 100;
  EXPECT_EQ(bvec_iter_bvec(vecs, it).bv_len, 100u);
}

TEST_F(BvecTest, AdvancingPastTheEndWarnsAndStopsAtTheEnd) {
  page* p0 = kpage();
  bio_vec v;
  bvec_set_page(&v, p0, 1024, 0, false);
  bvec_iter it;
  it.bi_size = 1024;
  EXPECT_FALSE(bvec_iter_advance(&v, &it, 2048));
  EXPECT_EQ(it.bi_size, 0u);
  EXPECT_EQ(m().nr_warnings(), 1u);
}

}  // namespace
}  // namespace guplab
