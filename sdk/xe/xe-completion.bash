# bash completion for xe: command names come from the server's own table
# (xe help --minimal --all), parameter names from `xe help <command>`, and
# uuid= values from <class>-list --minimal, as the upstream completion does.
_xe()
{
    local cur=${COMP_WORDS[COMP_CWORD]} cmd=${COMP_WORDS[1]}
    if [ "$COMP_CWORD" -eq 1 ]; then
        COMPREPLY=($(compgen -W "$(xe help --minimal --all 2>/dev/null | tr , ' ')" -- "$cur"))
        return
    fi
    if [[ $cur == uuid=* ]]; then
        local cls=${cmd%%-*}
        local uuids=$(xe "$cls-list" --minimal 2>/dev/null | tr , ' ')
        COMPREPLY=($(compgen -P uuid= -W "$uuids" -- "${cur#uuid=}"))
        return
    fi
    local params=$(xe help "$cmd" 2>/dev/null | sed -n 's/^ *\(reqd\|optional\) params *: //p' |
        tr -d ' ' | tr , '\n' | grep -v '^<' | sed 's/$/=/')
    COMPREPLY=($(compgen -W "$params" -- "$cur"))
    compopt -o nospace 2>/dev/null
}
complete -F _xe xe
