# Compile options shared by every omniseg target, attached through one INTERFACE target.
add_library(omniseg_compile_options INTERFACE)
add_library(omniseg::compile_options ALIAS omniseg_compile_options)

target_compile_features(omniseg_compile_options INTERFACE cxx_std_20)
target_include_directories(omniseg_compile_options INTERFACE "${PROJECT_SOURCE_DIR}")
target_compile_options(omniseg_compile_options INTERFACE -Wall -Wextra -Wpedantic)
if(OMNISEG_WARNINGS_AS_ERRORS)
  target_compile_options(omniseg_compile_options INTERFACE -Werror)
endif()
if(OMNISEG_SANITIZE)
  target_compile_options(omniseg_compile_options INTERFACE
    -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  target_link_options(omniseg_compile_options INTERFACE -fsanitize=address,undefined)
endif()
