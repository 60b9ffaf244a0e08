// fiber_jump.h - guplab_fiber_jump(): Boost.Context's jump_fcontext() contract, ending in
// `ret` (sim/fiber_jump.cc says why).
// Threading: only the host thread that runs the fibers.
#pragma once
#include <boost/context/detail/fcontext.hpp>

/**
 * guplab_fiber_jump() - suspend the running context and resume @to (suspended by this
 * function, or fresh from make_fcontext()), handing it @data. Returns, when something
 * jumps back here, the context that jumped and its data.
 */
extern "C" boost::context::detail::transfer_t guplab_fiber_jump(boost::context::detail::fcontext_t to, void* data);
