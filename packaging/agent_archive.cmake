cmake_minimum_required(VERSION 3.25) # script mode: current policies (IN_LIST)
# cmake -DBUILD_DIR=... -DSTAGE=... -DARCHIVE=... -P agent_archive.cmake
# Installs the agent component into a clean root with prefix /usr and packs it root-relative,
# owned by root, then writes ARCHIVE.sha256 in sha256sum's format. The archive holds files
# only, no directory entries: unpacked onto / it then follows the host's /lib -> usr/lib
# symlink instead of replacing it with a directory.
foreach(v BUILD_DIR STAGE ARCHIVE)
    if(NOT DEFINED ${v})
        message(FATAL_ERROR "agent_archive.cmake needs -D${v}=")
    endif()
endforeach()

file(REMOVE_RECURSE "${STAGE}")
execute_process(
    COMMAND ${CMAKE_COMMAND} -E env DESTDIR=${STAGE}
            ${CMAKE_COMMAND} --install ${BUILD_DIR} --component agent --prefix /usr
    RESULT_VARIABLE rc OUTPUT_QUIET)
if(rc)
    message(FATAL_ERROR "installing the agent component into ${STAGE} failed: ${rc}")
endif()

file(GLOB_RECURSE files LIST_DIRECTORIES false RELATIVE "${STAGE}" "${STAGE}/*")
list(SORT files)
foreach(need usr/bin/node-agent usr/lib/deploy-infra/libssl.so usr/lib/deploy-infra/libcrypto.so
        lib/systemd/system/node-agent.service etc/node-agent/agent.conf)
    if(NOT need IN_LIST files)
        message(FATAL_ERROR "the agent install has no ${need}")
    endif()
endforeach()
list(JOIN files "\n" listing)
file(WRITE "${STAGE}.files" "${listing}\n")

get_filename_component(dir "${ARCHIVE}" DIRECTORY)
get_filename_component(name "${ARCHIVE}" NAME)
file(MAKE_DIRECTORY "${dir}")
execute_process(
    COMMAND tar --create --gzip --file ${ARCHIVE}.tmp --directory ${STAGE} --owner=0
            --group=0 --numeric-owner --no-recursion --files-from ${STAGE}.files
    RESULT_VARIABLE rc)
if(rc)
    message(FATAL_ERROR "tar failed: ${rc}")
endif()
file(SHA256 "${ARCHIVE}.tmp" sum)
file(RENAME "${ARCHIVE}.tmp" "${ARCHIVE}")
file(WRITE "${ARCHIVE}.sha256" "${sum}  ${name}\n")
