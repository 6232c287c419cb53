# SPDX-License-Identifier: MIT
# The complete programs of README.md, built like the examples and run by
# test_readme_programs. The marker: a fenced code block whose info string is
# "c program" (a line "```c program" opens it, a line "```" closes it) is a
# whole C program that builds and runs as it stands; plain "```c" blocks are
# fragments and are not extracted. Extraction happens at configure time;
# README.md is a configure dependency, so editing it re-extracts them.
# Sets README_PROGRAMS to the targets, in README order.
set(_readme ${PROJECT_SOURCE_DIR}/README.md)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${_readme})
file(READ ${_readme} _rest)
set(_open "\n```c program\n")
string(LENGTH "${_open}" _open_len)
set(README_PROGRAMS "")
set(_n 0)
while(TRUE)
  string(FIND "${_rest}" "${_open}" _at)
  if(_at EQUAL -1)
    break()
  endif()
  math(EXPR _at "${_at} + ${_open_len}")
  string(SUBSTRING "${_rest}" ${_at} -1 _rest)
  string(FIND "${_rest}" "\n```" _end)
  if(_end EQUAL -1)
    message(FATAL_ERROR "README.md: a \"```c program\" block is not closed")
  endif()
  math(EXPR _end "${_end} + 1") # keep the last line's newline
  string(SUBSTRING "${_rest}" 0 ${_end} _code)
  string(SUBSTRING "${_rest}" ${_end} -1 _rest)
  math(EXPR _n "${_n} + 1")
  set(_src ${CMAKE_CURRENT_BINARY_DIR}/readme/program_${_n}.c)
  # Through a copy, so that an unchanged program is not rebuilt.
  file(WRITE ${_src}.new "${_code}")
  configure_file(${_src}.new ${_src} COPYONLY)
  add_executable(readme_program_${_n} ${_src})
  target_link_libraries(readme_program_${_n} PRIVATE ctxlog PkgConfig::JANSSON Threads::Threads)
  list(APPEND README_PROGRAMS readme_program_${_n})
endwhile()
if(_n EQUAL 0)
  message(FATAL_ERROR "README.md has no \"```c program\" block")
endif()
