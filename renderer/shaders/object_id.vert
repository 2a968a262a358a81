#version 330 core
// The id pass of renderer/draw.py: each fragment's object id (0 background, 1..255).
// Positions go through the same expression as pyrender's mesh.vert, so the id pass
// covers the pixels the colour pass covers.

layout(location = 0) in vec3 position;
layout(location = INST_M_LOC) in mat4 inst_m;
layout(location = OBJECT_ID_LOC) in float object_id;

uniform mat4 M;
uniform mat4 V;
uniform mat4 P;

flat out float frag_object_id;

void main()
{
    gl_Position = P * V * M * inst_m * vec4(position, 1);
    frag_object_id = object_id;
}
