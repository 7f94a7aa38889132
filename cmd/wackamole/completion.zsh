#compdef wackamole
# zsh completion for wackamole(8), installed as
# /usr/share/zsh/vendor-completions/_wackamole.

local curcontext=$curcontext state line ret=1
local -a commands
commands=(
  'run:run the daemon in the foreground'
  'check:validate the configuration and exit'
  'cleanup:remove the VIP addresses a crashed daemon left'
  'keygen:print a new gossip key'
  'import:print a wackamole.toml equivalent to a keepalived.conf or an old wackamole.conf'
)
_arguments -C \
  '(-c --config)'{-c,--config}'[configuration file]:file:_files' \
  '--log-level[log level]:level:(debug info warn error)' \
  '--log-format[log format]:format:(text json)' \
  '(- *)--version[print the version]' \
  '(- *)--help[print the usage]' \
  '1:command:->command' \
  '*::argument:->argument' && ret=0
case $state in
  command)
    _describe -t commands 'wackamole command' commands && ret=0 ;;
  argument)
    case $words[1] in
      import)
        if (( CURRENT == 2 )); then
          _values format keepalived wackamole && ret=0
        else
          _arguments \
            '--node[this node'\''s node_name]:node name:' \
            '--key-file[secret_key_file of the output]:file:_files' \
            '*:configuration file:_files' && ret=0
        fi ;;
      run|check|cleanup)
        _arguments '(-c --config)'{-c,--config}'[configuration file]:file:_files' && ret=0 ;;
    esac ;;
esac
return ret
