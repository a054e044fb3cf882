# xlb_bpf_object(NAME SOURCE [DEPENDS headers...])
# Compiles SOURCE with clang -target bpf into NAME.bpf.o, generates the
# libbpf skeleton NAME.skel.h with bpftool, and defines an INTERFACE target
# NAME_skel that puts the skeleton on the include path and links libbpf.
find_program(BPF_CLANG NAMES clang clang-16 clang-15 clang-14 REQUIRED)
if(XLB_WERROR)
  set(XLB_BPF_WERROR -Werror)
endif()
find_program(BPFTOOL NAMES bpftool PATHS /usr/sbin /usr/local/sbin REQUIRED)

function(xlb_bpf_object NAME SOURCE)
  cmake_parse_arguments(ARG "" "" "DEPENDS" ${ARGN})
  set(obj ${CMAKE_CURRENT_BINARY_DIR}/${NAME}.bpf.o)
  set(skel_dir ${CMAKE_CURRENT_BINARY_DIR}/skel)
  set(skel ${skel_dir}/${NAME}.skel.h)
  execute_process(COMMAND uname -m OUTPUT_VARIABLE arch OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(arch STREQUAL "x86_64")
    set(target_arch x86)
  elseif(arch STREQUAL "aarch64")
    set(target_arch arm64)
  else()
    set(target_arch ${arch})
  endif()
  add_custom_command(
    OUTPUT ${obj}
    COMMAND ${BPF_CLANG} -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_${target_arch} -Wall ${XLB_BPF_WERROR}
            -I${PROJECT_SOURCE_DIR}/include -I${PROJECT_SOURCE_DIR}/bpf
            -I/usr/include/${arch}-linux-gnu
            -c ${SOURCE} -o ${obj}
    DEPENDS ${SOURCE} ${ARG_DEPENDS}
    COMMENT "BPF ${NAME}"
    VERBATIM)
  add_custom_command(
    OUTPUT ${skel}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${skel_dir}
    COMMAND ${BPFTOOL} gen skeleton ${obj} name ${NAME} > ${skel}
    DEPENDS ${obj}
    COMMENT "skeleton ${NAME}.skel.h"
    VERBATIM)
  add_custom_target(${NAME}_skel_gen ALL DEPENDS ${skel})
  add_library(${NAME}_skel INTERFACE)
  add_dependencies(${NAME}_skel ${NAME}_skel_gen)
  target_include_directories(${NAME}_skel INTERFACE ${skel_dir})
  target_link_libraries(${NAME}_skel INTERFACE PkgConfig::LIBBPF)
endfunction()
