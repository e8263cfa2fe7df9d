# The message wheels' exported Python targets name the include directory of the interpreter they were built
# with (a path on the wheel builder's machine, absent here); point every such target at this interpreter's
# headers instead. Call after rosidl_generate_interfaces (which finds Python3), before ament_package.
function(use_this_python_for_wheel_targets)
  get_directory_property(imported IMPORTED_TARGETS)
  foreach(target ${imported})
    if(target MATCHES "__rosidl_generator_py$")
      get_target_property(dirs ${target} INTERFACE_INCLUDE_DIRECTORIES)
      set(kept ${Python3_INCLUDE_DIRS})
      foreach(dir ${dirs})
        if(EXISTS "${dir}")
          list(APPEND kept "${dir}")
        endif()
      endforeach()
      set_target_properties(${target} PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${kept}")
    endif()
  endforeach()
endfunction()
