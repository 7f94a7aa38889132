# bash completion for wackamole(8), installed as
# /usr/share/bash-completion/completions/wackamole.

_wackamole() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
    COMPREPLY=()
    case $prev in
        -c|--config|--key-file)
            compopt -o filenames 2>/dev/null
            COMPREPLY=($(compgen -f -- "$cur"))
            return ;;
        --log-level)
            COMPREPLY=($(compgen -W 'debug info warn error' -- "$cur"))
            return ;;
        --log-format)
            COMPREPLY=($(compgen -W 'text json' -- "$cur"))
            return ;;
        --node)
            return ;;
    esac
    # The command is the first word that is not a flag or a flag's value.
    local i cmd= at=0
    for ((i = 1; i < COMP_CWORD; i++)); do
        case ${COMP_WORDS[i]} in
            -c|--config|--log-level|--log-format|--node|--key-file) ((i++)) ;;
            -*) ;;
            *) cmd=${COMP_WORDS[i]}; at=$i; break ;;
        esac
    done
    case $cmd in
        '')
            if [[ $cur == -* ]]; then
                COMPREPLY=($(compgen -W '-c --config --log-level --log-format --version --help' -- "$cur"))
            else
                COMPREPLY=($(compgen -W 'run check cleanup keygen import' -- "$cur"))
            fi ;;
        import)
            local format=
            for ((i = at + 1; i < COMP_CWORD; i++)); do
                case ${COMP_WORDS[i]} in
                    --node|--key-file) ((i++)) ;;
                    -*) ;;
                    *) format=${COMP_WORDS[i]}; break ;;
                esac
            done
            if [[ -z $format ]]; then
                COMPREPLY=($(compgen -W 'keepalived wackamole --help' -- "$cur"))
            elif [[ $cur == -* ]]; then
                COMPREPLY=($(compgen -W '--node --key-file' -- "$cur"))
            else
                compopt -o filenames 2>/dev/null
                COMPREPLY=($(compgen -f -- "$cur"))
            fi ;;
        run|check|cleanup)
            COMPREPLY=($(compgen -W '-c --config --log-level --log-format' -- "$cur")) ;;
    esac
}
complete -F _wackamole wackamole
