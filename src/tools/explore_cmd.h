// explore_cmd.h - `guplab explore`: the sim explorer and exact replay (lab/explorer.h).
#pragma once

namespace guplab::tools {

int explore_main(int argc, char** argv);

}  // namespace guplab::tools
