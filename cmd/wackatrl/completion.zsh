#compdef wackatrl
# zsh completion for wackatrl(8), installed as
# /usr/share/zsh/vendor-completions/_wackatrl.

local curcontext=$curcontext state line ret=1
local -a commands
commands=(
  'status:this node, the members and the VIPs'
  'members:every member this node sees'
  'vips:every VIP, its owner and any hand-over'
  'drain:hand every VIP over and stay ineligible'
  'undrain:make the node eligible again'
  'reload:make the daemon read its configuration again'
)
_arguments -C \
  '(-s --socket -c --config)'{-s,--socket}'[control socket]:socket:_files' \
  '(-s --socket -c --config)'{-c,--config}'[take the socket from this configuration]:file:_files' \
  '--json[machine output]' \
  '--timeout[drain: how long to wait]:duration:(30s 60s 2m 5m 10m)' \
  '(- *)--version[print the version]' \
  '(- *)--help[print the usage]' \
  '1:command:->command' && ret=0
case $state in
  command)
    _describe -t commands 'wackatrl command' commands && ret=0 ;;
esac
return ret
