# bash completion for wackatrl(8), installed as
# /usr/share/bash-completion/completions/wackatrl.

_wackatrl() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
    COMPREPLY=()
    case $prev in
        -s|--socket|-c|--config)
            compopt -o filenames 2>/dev/null
            COMPREPLY=($(compgen -f -- "$cur"))
            return ;;
        --timeout)
            COMPREPLY=($(compgen -W '30s 60s 2m 5m 10m' -- "$cur"))
            return ;;
    esac
    local i cmd=
    for ((i = 1; i < COMP_CWORD; i++)); do
        case ${COMP_WORDS[i]} in
            -s|--socket|-c|--config|--timeout) ((i++)) ;;
            -*) ;;
            *) cmd=${COMP_WORDS[i]}; break ;;
        esac
    done
    if [[ $cur == -* ]]; then
        local flags='-s --socket -c --config --json'
        [[ -z $cmd ]] && flags+=' --version --help'
        [[ $cmd == drain ]] && flags+=' --timeout'
        COMPREPLY=($(compgen -W "$flags" -- "$cur"))
    elif [[ -z $cmd ]]; then
        COMPREPLY=($(compgen -W 'status members vips drain undrain reload' -- "$cur"))
    fi
}
complete -F _wackatrl wackatrl
